"""A torchtitan checkpoint step as a Hugging Face model directory (weights + config.json).

    python -m sn9_titan.export [--step N] [--dtype bfloat16|float32] [--out DIR]

torchtitan writes Hugging Face safetensors itself at the last step; this converts any other
(DCP) step, on CPU, with about 4 bytes per parameter of memory. `sn9 train import-job` then
takes `outputs/hf/step-N` (the default --out).
"""

import argparse
import shutil
import sys

import torch
import torch.distributed.checkpoint as dcp
from safetensors.torch import save_file
from torchtitan.components.checkpoint import ModelWrapper

from .config_registry import JOB
from .model import spec_from_hf


def dcp_steps(folder):
    return sorted(int(p.name[5:]) for p in folder.glob("step-*")
                  if p.name[5:].isdigit() and (p / ".metadata").exists())


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m sn9_titan.export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=int, help="checkpoint step [default: the latest]")
    ap.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    ap.add_argument("--out", help="output directory [default: outputs/hf/step-N]")
    a = ap.parse_args(argv)
    folder = JOB / "outputs" / "checkpoint"
    steps = dcp_steps(folder)
    if not steps:
        sys.exit(f"error: no DCP checkpoint in {folder}; has the job saved one yet?")
    step = steps[-1] if a.step is None else a.step
    if step not in steps:
        sys.exit(f"error: no DCP checkpoint for step {step} in {folder} (steps: {steps})")
    spec = spec_from_hf(str(JOB / "hf_assets" / "config.json"))
    with torch.device("meta"):
        model = spec.model.build()
    model.to_empty(device="cpu")
    sd = ModelWrapper(model).state_dict()
    dcp.load(sd, checkpoint_id=str(folder / f"step-{step}"))
    hf = spec.state_dict_adapter(spec.model, None).to_hf(sd)
    dtype = getattr(torch, a.dtype)
    hf = {k: v.detach().to(dtype).contiguous() for k, v in hf.items()}
    out = JOB / "outputs" / "hf" / f"step-{step}" if a.out is None else a.out
    out = JOB.__class__(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(hf, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(JOB / "hf_assets" / "config.json", tmp / "config.json")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"step {step}: {len(hf)} tensors ({a.dtype}) in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
