"""sn9's u32 token shards as a torchtitan 0.3.0 dataloader, in `sn9 train`'s sample order.

One sample is one stored window `w` of `seq_len` tokens: inputs `w`, labels `w[1:]` and the
ignore index on the last position, positions `0..seq_len-1` (one document: plain causal attention
over the whole window). That is the validator's objective, `seq_len - 1` labels per window.
The windows come in the order of `order.py`; the state is the number of windows this rank has
taken, so a resumed job continues where it stopped.
"""

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch.distributed.checkpoint.stateful import Stateful
from torch.utils.data import IterableDataset
from torchtitan.components.dataloader import ParallelAwareDataloader
from torchtitan.components.loss import IGNORE_INDEX
from torchtitan.components.tokenizer import BaseTokenizer

from .order import Order, cursor_of


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Sn9Windows(IterableDataset, Stateful):
    def __init__(self, shard_dir, part, seq_len, dp_rank, dp_world_size, local_batch_size,
                 seed, val_sequences, manifest_sha256, eos_id, infinite=True):
        manifest_path = os.path.join(shard_dir, "manifest.json")
        if manifest_sha256 and _sha256(manifest_path) != manifest_sha256:
            raise ValueError(
                f"{manifest_path} is not the manifest this job was generated for; point "
                "--dataloader.dataset_path at those shards or regenerate the job")
        with open(manifest_path) as f:
            m = json.load(f)
        if m.get("schema") != "sn9.tokens" or m.get("version") != 1:
            raise ValueError(f"{shard_dir} is not an sn9.tokens v1 shard directory")
        if m["seq_len"] != seq_len:
            raise ValueError(f"shards have seq_len {m['seq_len']}, training.seq_len is {seq_len}")
        if eos_id is not None and m["eos_id"] != eos_id:
            raise ValueError(f"shards use eos {m['eos_id']}, the job's tokenizer eos is {eos_id}")
        self.T = seq_len
        self.mm, counts = [], []
        for s in m["shards"]:
            mm = np.memmap(os.path.join(shard_dir, s["file"]), dtype="<u4", mode="r")
            if len(mm) != s["sequences"] * seq_len:
                raise ValueError(f"{s['file']}: {len(mm)} tokens, the manifest says "
                                 f"{s['sequences']} windows of {seq_len}")
            self.mm.append(mm)
            counts.append(s["sequences"])
        self.off = np.cumsum([0] + counts)
        self.order = Order(int(self.off[-1]), val_sequences, seed, part)
        self.rank, self.dp, self.b = dp_rank, dp_world_size, local_batch_size
        self.infinite = infinite
        self.k = 0  # windows this rank has taken
        self.key = [int(self.off[-1]), val_sequences, seed, part, dp_world_size, local_batch_size]

    def _window(self, g):
        f = int(np.searchsorted(self.off, g, side="right") - 1)
        i = g - int(self.off[f])
        return torch.from_numpy(np.asarray(self.mm[f][i * self.T:(i + 1) * self.T], dtype=np.int64))

    def __iter__(self):
        positions = torch.arange(self.T, dtype=torch.int64)
        per_pass = len(self.order) // self.dp  # one pass of the data on this rank
        while True:
            if not self.infinite and self.k >= per_pass:
                return
            w = self._window(self.order.window(cursor_of(self.k, self.rank, self.dp, self.b)))
            self.k += 1
            labels = torch.full_like(w, IGNORE_INDEX)
            labels[:-1] = w[1:]
            yield {"input": w, "positions": positions}, labels

    def state_dict(self):
        return {"k": self.k, "key": self.key}

    def load_state_dict(self, state_dict):
        if list(state_dict["key"]) != self.key:
            raise ValueError(
                f"the checkpoint's data stream {state_dict['key']} is not this job's {self.key} "
                "(windows, val, seed, part, data-parallel degree, local batch); resume with the "
                "same settings or exclude the dataloader from loading")
        self.k = state_dict["k"]


class Sn9ShardLoader(ParallelAwareDataloader):
    @dataclass(kw_only=True, slots=True)
    class Config(ParallelAwareDataloader.Config):
        part: str = "train"
        seed: int = 0
        val_sequences: int = 0
        manifest_sha256: str = ""
        infinite: bool = True  # the Validator sets it with dataclasses.replace

    def __init__(self, config, *, dp_world_size, dp_rank, tokenizer, seq_len, local_batch_size,
                 snapshot_every_n_steps=1, **kwargs):
        ds = Sn9Windows(config.dataset_path, config.part, seq_len, dp_rank, dp_world_size,
                        local_batch_size, config.seed, config.val_sequences,
                        config.manifest_sha256, getattr(tokenizer, "eos_id", None),
                        config.infinite)
        super().__init__(ds, dp_rank=dp_rank, dp_world_size=dp_world_size,
                         batch_size=local_batch_size, num_workers=config.num_workers,
                         persistent_workers=config.persistent_workers,
                         pin_memory=config.pin_memory, prefetch_factor=config.prefetch_factor,
                         snapshot_every_n_steps=snapshot_every_n_steps)


class Sn9Tokenizer(BaseTokenizer):
    """The shards are tokenized already: this only carries the vocabulary size and eos id."""

    @dataclass(kw_only=True, slots=True)
    class Config(BaseTokenizer.Config):
        vocab_size: int = 0
        eos: int = 0

    def __init__(self, config, *, tokenizer_path=None, **kwargs):
        super().__init__()
        self.eos_id = config.eos
        self.vocab_size = config.vocab_size

    def encode(self, *args, **kwargs):
        raise RuntimeError("this job trains on sn9's token shards; it tokenizes nothing")

    def decode(self, *args, **kwargs):
        raise RuntimeError("this job trains on sn9's token shards; it decodes nothing")

    def get_vocab_size(self):
        return self.vocab_size
