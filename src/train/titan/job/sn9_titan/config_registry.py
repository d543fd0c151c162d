"""The job's torchtitan config: `--module sn9_titan --config train`.

Every value comes from `settings.json` (written by `sn9 train --engine torchtitan`); paths are
resolved from this file, so the job directory may move. `SN9_TITAN_DATA` points at the shards
where they are on the cluster (their manifest must be the one the job was written for).
`SN9_TITAN_DRYRUN=1` (dryrun.sh) runs one step without checkpoints or validation.
"""

import json
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from torchtitan.components.checkpoint import CheckpointManager
from torchtitan.components.loss import ChunkedLossWrapper, CrossEntropyLoss
from torchtitan.components.metrics import MetricsProcessor
from torchtitan.components.optimizer import (
    LRSchedulersContainer,
    OptimizersContainer,
    ParamGroupConfig,
)
from torchtitan.components.validate import Validator
from torchtitan.config import DebugConfig, ParallelismConfig, TrainingConfig
from torchtitan.distributed.activation_checkpoint import SelectiveAC
from torchtitan.trainer import Trainer

from .data import Sn9ShardLoader, Sn9Tokenizer
from .model import spec_from_hf
from .schedule import factor

JOB = Path(__file__).resolve().parent.parent


class Sn9LRSchedulers(LRSchedulersContainer):
    """torchtitan's scheduler container with `sn9 train`'s schedule (schedule.py)."""

    @dataclass(kw_only=True, slots=True)
    class Config(LRSchedulersContainer.Config):
        decay: str = "cosine"

        def build(self, *, optimizers, training_steps):
            total = self.total_steps if self.total_steps is not None else training_steps
            return Sn9LRSchedulers(optimizers, partial(
                factor, warmup=self.warmup_steps, total=total, decay=self.decay,
                min_factor=self.min_lr_factor))


def settings():
    with open(JOB / "sn9_titan" / "settings.json") as f:
        return json.load(f)


def _adamw(s, weight_decay):
    return {"lr": s["lr"], "betas": (s["beta1"], s["beta2"]), "eps": s["eps"],
            "weight_decay": weight_decay}


def train() -> Trainer.Config:
    s = settings()
    dry = os.environ.get("SN9_TITAN_DRYRUN") == "1"
    spec = spec_from_hf(str(JOB / "hf_assets" / "config.json"), flavor=s["name"])
    groups = [ParamGroupConfig(pattern=r".*", optimizer_name="AdamW",
                               optimizer_kwargs=_adamw(s, s["weight_decay"]))]
    if not s["decay_all"]:  # sn9 decays matrices only: norms go first, without decay
        groups.insert(0, ParamGroupConfig(pattern=r".*norm.*", optimizer_name="AdamW",
                                          optimizer_kwargs=_adamw(s, 0.0)))
    # The shards may sit elsewhere on the cluster: SN9_TITAN_DATA (checked by the manifest's hash).
    data = os.environ.get("SN9_TITAN_DATA") or s["data"]
    loader = dict(dataset_path=data, seed=s["seed"], val_sequences=s["val_sequences"],
                  manifest_sha256=s["manifest_sha256"])
    init = JOB / "init_hf"
    val_steps = s["val_sequences"] // (s["dp_degree"] * s["local_batch_size"])
    return Trainer.Config(
        model_spec=spec,
        hf_assets_path=str(JOB / "hf_assets"),
        dump_folder=str(JOB / ("outputs-dryrun" if dry else "outputs")),
        tokenizer=Sn9Tokenizer.Config(vocab_size=s["vocab_size"], eos=s["eos_id"]),
        loss=ChunkedLossWrapper.Config(
            loss_fn=CrossEntropyLoss.Config(global_vocab_size=s["vocab_size"])),
        optimizer=OptimizersContainer.Config(param_groups=groups),
        lr_scheduler=Sn9LRSchedulers.Config(
            warmup_steps=s["warmup_steps"], decay=s["decay"], min_lr_factor=s["min_lr_factor"]),
        training=TrainingConfig(
            local_batch_size=s["local_batch_size"], global_batch_size=s["global_batch_size"],
            seq_len=s["seq_len"], steps=1 if dry else s["steps"],
            max_norm=s["clip"] if s["clip"] > 0 else float("inf"),
            mixed_precision_param=s["mixed_precision_param"]),
        dataloader=Sn9ShardLoader.Config(**loader),
        parallelism=ParallelismConfig(
            data_parallel_replicate_degree=s["nodes"],  # HSDP: replicas across nodes
            data_parallel_shard_degree=s["gpus_per_node"]),  # shards within one
        activation_checkpoint=SelectiveAC.Config(),
        checkpoint=CheckpointManager.Config(
            enable=not dry, interval=s["save_every"], keep_latest_k=s["keep"],
            initial_load_path=str(init) if init.is_dir() else None,
            initial_load_in_hf=init.is_dir(), initial_load_model_only=init.is_dir(),
            last_save_model_only=True, last_save_in_hf=True, export_dtype="bfloat16"),
        validator=Validator.Config(
            enable=val_steps > 0 and not dry, freq=s["eval_every"] or s["steps"],
            steps=max(val_steps, 1),
            dataloader=Sn9ShardLoader.Config(part="val", **loader)),
        metrics=MetricsProcessor.Config(log_freq=s["log_every"], enable_tensorboard=not dry),
        debug=DebugConfig(seed=s["seed"]),
    )
