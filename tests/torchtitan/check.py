"""torchtitan 0.3.0 on CPU against sn9's job directory (`make test-torchtitan`).

    python check.py SN9_BINARY WORKDIR

With the job's pinned environment (torch, torchtitan): for jobs that `sn9 train --engine
torchtitan` writes,
1. the config function resolves, and the B3 and B14 shapes build on the meta device with exactly
   the parameter count sn9 counts (nothing allocated);
2. the tiny Llama cases of shared/hfref (GQA, MHA, tied, llama3 rope scaling, sharded, bf16) load
   through torchtitan's own initial HF load (adapter + HuggingFaceStorageReader) from the job's
   init_hf, and their logits equal transformers' (expected.json);
3. weights round-trip HF -> torchtitan -> DCP checkpoint -> the job's export.py -> HF bit for bit
   (float32), and `sn9 train import-job` gives the same tensors in bf16;
4. the dataloader gives each data-parallel rank its windows in sn9 train's order, with labels
   shifted and the last one ignored, and a resumed loader continues with the identical batch;
5. torchtitan's scheduler container steps through sn9 train's learning-rate schedule, and its
   AdamW groups carry sn9 train's settings (no weight decay on norms).
A training step cannot run on CPU (torchtitan selects CUDA; FlexAttention has no CPU backward).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed.checkpoint as dcp
from safetensors.torch import load_file

SN9, WORK = sys.argv[1], Path(sys.argv[2])
ROOT = Path(__file__).resolve().parents[2]
HFREF = Path(os.environ.get("SN9_HFREF", ROOT / "fixtures" / "hfref"))
T0 = time.time()


def say(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def sn9(*args):
    r = subprocess.run([SN9, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sn9 {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


def job_modules(job):
    """Imports the job's package fresh (each job has its own settings.json)."""
    for m in [m for m in sys.modules if m == "sn9_titan" or m.startswith("sn9_titan.")]:
        del sys.modules[m]
    sys.path.insert(0, str(job))
    try:
        import sn9_titan.config_registry as cr
        import sn9_titan.model as model
        import sn9_titan.order as order
    finally:
        sys.path.pop(0)
    return cr, model, order


def export_job(shards, model, out, *extra):
    sn9("-q", "train", "--engine", "torchtitan", "--data", shards, "--model", model, "--out", out,
        *extra)
    return out


shards = WORK / "shards"
if not shards.exists():
    sn9("-q", "data", "pack", "--seq-len", "32", ROOT / "fixtures/corpus/tiny.jsonl",
        "--tokenizer", ROOT / "fixtures/tokenizer/bytes", "--out", shards)

# 1. Config resolution and the competition shapes on the meta device.
for name, comp in [("b3", 2), ("b14", 4)]:
    job = export_job(shards, ROOT / f"fixtures/titan/{name}.json", WORK / f"job-{name}",
                     "--competition", comp, "--nodes", "4", "--batch-size", "1",
                     "--global-batch-size", "1024")
    r = subprocess.run([sys.executable, "-m", "torchtitan.config.manager", "--module", "sn9_titan",
                        "--config", "train"], cwd=job, env=dict(os.environ, PYTHONPATH=str(job)),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cr, _, _ = job_modules(job)
    cfg = cr.train()
    assert cfg.training.global_batch_size == 1024 and cfg.parallelism.data_parallel_shard_degree == 8
    with torch.device("meta"):
        m = cfg.model_spec.model.build()
    n = sum(p.numel() for p in m.parameters())
    want = json.loads((job / "job.json").read_text())["parameters"]
    assert n == want, f"{name}: torchtitan builds {n} parameters, sn9 counts {want}"
    say(f"{name}: config resolves; {n} parameters on the meta device, as sn9 counts")

# 2-3. The hfref Llama cases through the job.
for case in ["llama_gqa", "llama_mha", "llama_tied", "llama3_rope_scaling", "llama_sharded",
             "llama_bf16"]:
    src = HFREF / case
    job = export_job(shards, src, WORK / f"job-{case}", "--gpus-per-node", "1", "--steps", "5")
    cr, model_mod, _ = job_modules(job)
    from torchtitan.components.checkpoint import ModelWrapper

    ck = cr.train().checkpoint  # the job starts from init_hf through torchtitan's HF load
    assert ck.initial_load_path == str(job / "init_hf") and ck.initial_load_in_hf, case

    spec = model_mod.spec_from_hf(str(job / "hf_assets/config.json"))
    model = spec.model.build()
    adapter = spec.state_dict_adapter(spec.model, str(job / "hf_assets"))
    # torchtitan's initial load of an HF checkpoint (CheckpointManager, from_hf=True).
    sd = ModelWrapper(model).state_dict()
    hf_sd = adapter.to_hf(sd)
    dcp.load(hf_sd, storage_reader=adapter.get_hf_storage_reader(str(job / "init_hf")))
    ModelWrapper(model).load_state_dict(adapter.from_hf(hf_sd))

    exp = json.loads((src / "expected.json").read_text())
    ids = torch.tensor(json.loads((src / "input_ids.json").read_text())["input_ids"])
    pos = torch.arange(ids.shape[1]).expand_as(ids)
    with torch.no_grad():
        logits = model(ids, pos, model.get_attention_masks(pos)).float()
    lg = exp["logits"]
    head = torch.tensor(lg["head"])
    diff = (logits[:, : lg["head_positions"]] - head).abs().max().item()
    # transformers computed the bf16 case in bf16; torchtitan computes in float32 here.
    f32 = exp["compute_dtype"] == "float32"
    tol = 1e-4 if f32 else 0.1
    assert diff <= tol, f"{case}: logits differ from transformers' by {diff}"
    if f32:
        assert torch.equal(logits.argmax(-1), torch.tensor(lg["pos_argmax"])), case

    # Round trip: DCP checkpoint -> export.py -> HF, bit for bit against the original weights.
    orig = {}
    for f in sorted(src.glob("*.safetensors")):
        orig.update(load_file(str(f)))
    step = job / "outputs/checkpoint/step-5"
    dcp.save(ModelWrapper(model).state_dict(), checkpoint_id=str(step))
    r = subprocess.run([sys.executable, "-m", "sn9_titan.export", "--step", "5", "--dtype",
                        "float32"], cwd=job, env=dict(os.environ, PYTHONPATH=str(job)),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    back = load_file(str(job / "outputs/hf/step-5/model.safetensors"))
    assert set(back) == set(orig), f"{case}: {sorted(set(back) ^ set(orig))}"
    for k, v in orig.items():
        assert torch.equal(back[k], v.float()), f"{case}: {k} changed in the round trip"
    out = WORK / f"model-{case}"
    sn9("-q", "train", "import-job", job, "--out", out, "--force")
    got = {}
    for f in sorted(out.glob("*.safetensors")):
        got.update(load_file(str(f)))
    for k, v in orig.items():
        assert got[k].dtype == torch.bfloat16 and torch.equal(got[k], v.to(torch.bfloat16)), k
    say(f"{case}: logits equal transformers' (max diff {diff:.1e}); HF -> DCP -> HF bit-identical; "
        "import-job bf16 identical")

# 4. The dataloader: ranks, order, labels, resume.
job = export_job(shards, ROOT / "fixtures/demo/model.json", WORK / "job-data", "--nodes", "1",
                 "--gpus-per-node", "2", "--batch-size", "4", "--val-sequences", "16", "--seed",
                 "7")
cr, _, order = job_modules(job)
cfg, s = cr.train(), cr.settings()
tok = cfg.tokenizer.build(tokenizer_path=cfg.hf_assets_path)
raw = np.fromfile(Path(s["data"]) / "shard-00000.bin", dtype="<u4").reshape(-1, s["seq_len"])
o = order.Order(s["total_sequences"], s["val_sequences"], s["seed"])
dp, b = 2, 4


def loader(rank):
    return cfg.dataloader.build(dp_world_size=dp, dp_rank=rank, tokenizer=tok,
                                seq_len=s["seq_len"], local_batch_size=b, snapshot_every_n_steps=1)


seen = set()
for rank in range(dp):
    dl = loader(rank)
    it, k = iter(dl), 0
    for _ in range(5):
        inp, lab = next(it)
        assert inp["input"].shape == (b, s["seq_len"]) and inp["input"].dtype == torch.int64
        for row in range(b):
            g = o.window(order.cursor_of(k, rank, dp, b))
            k += 1
            assert g not in seen, "two ranks read one window"
            seen.add(g)
            assert torch.equal(inp["input"][row], torch.from_numpy(raw[g].astype(np.int64)))
            assert torch.equal(lab[row, :-1], inp["input"][row, 1:]) and lab[row, -1] == -100
            assert torch.equal(inp["positions"][row], torch.arange(s["seq_len"]))
    state = dl.state_dict()
    nxt = next(it)
    dl2 = loader(rank)
    dl2.load_state_dict(state)
    again = next(iter(dl2))
    assert torch.equal(nxt[0]["input"], again[0]["input"]), "a resumed loader goes elsewhere"
say("dataloader: 2 ranks read disjoint windows in sn9 train's order; resume continues exactly")

# 5. The learning rate of every step is sn9 train's (schedule.py inside torchtitan's container).
from sn9_titan.schedule import factor

for decay in ["cosine", "linear", "constant"]:
    sched = cfg.lr_scheduler
    sched.decay = decay
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=s["lr"])
    container = sched.build(optimizers=[opt], training_steps=s["steps"])
    for step in range(s["steps"]):
        want = s["lr"] * factor(step, s["warmup_steps"], s["steps"], decay, s["min_lr_factor"])
        assert opt.param_groups[0]["lr"] == want, (decay, step, opt.param_groups[0]["lr"], want)
        opt.step()
        container.step()
say("learning rate: torchtitan's scheduler steps through sn9 train's schedule")

# 6. AdamW as sn9 train sets it: norms without weight decay, every matrix with it.
model = cfg.model_spec.model.build()
groups = [g for opt in cfg.optimizer.build(model_parts=[model]).optimizers for g in opt.param_groups]
names = {n: g["weight_decay"] for g in groups for n in g["param_names"]}
assert set(names) == {n for n, _ in model.named_parameters()}, "a parameter is not optimised"
for n, wd in names.items():
    assert wd == (0.0 if "norm" in n else s["weight_decay"]), (n, wd)
for g in groups:
    assert (g["lr"], g["betas"], g["eps"]) == (s["lr"], (s["beta1"], s["beta2"]), s["eps"]), g
say("AdamW: sn9 train's settings, weight decay on matrices only")
print("torchtitan checks: ok")
