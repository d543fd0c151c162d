"""PyTorch eager side of bench/train.sh: trains the same Llama config with torch.optim.AdamW on
the same token shards and reports tokens/s; then loads the model `sn9 train` wrote with
transformers and recomputes sn9's validation loss on the same held-out sequences (the split is
CPython's `random.Random(seed).shuffle`, as sn9 draws it).
MODE: eager or sdpa attention, or compile (sdpa + `torch.compile` of the model; the compile time
is spent in the warm-up steps, and a failure is reported as such).
usage: train.py SHARDS CONFIG STEPS BATCH THREADS SN9_MODEL SEED VAL_SEQUENCES [MODE]"""
import json
import random
import sys
import time

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

shards, config, steps, batch, threads, sn9_model, seed, val = sys.argv[1:9]
steps, batch, threads, seed, val = int(steps), int(batch), int(threads), int(seed), int(val)
mode = sys.argv[9] if len(sys.argv) > 9 else "eager"
torch.set_num_threads(threads)
man = json.load(open(f"{shards}/manifest.json"))
seq = man["seq_len"]
data = np.concatenate([np.fromfile(f"{shards}/{s['file']}", dtype="<u4") for s in man["shards"]]).reshape(-1, seq)

torch.manual_seed(0)
cfg = LlamaConfig.from_json_file(config)
cfg._attn_implementation = "eager" if mode == "eager" else "sdpa"
model = LlamaForCausalLM(cfg)
step_model = model
if mode == "compile":
    try:
        step_model = torch.compile(model)
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"impl": f"torch {torch.__version__} compile", "error": repr(e)[:300]}))
        sys.exit(0)
decay = [p for n, p in model.named_parameters() if not (n.endswith(".bias") or n.endswith("norm.weight"))]
no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or n.endswith("norm.weight")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
rng = np.random.default_rng(0)
warm = 3
for i in range(steps + warm):
    if i == warm:
        t0 = time.perf_counter()
    x = torch.from_numpy(data[rng.integers(0, len(data), batch)].astype(np.int64))
    try:
        loss = step_model(x, labels=x).loss
    except Exception as e:  # noqa: BLE001 (torch.compile fails at the first call, e.g. without a C++ compiler)
        print(json.dumps({"impl": f"torch {torch.__version__} {mode}", "error": repr(e)[:300]}))
        sys.exit(0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
dt = time.perf_counter() - t0

# transformers loads what sn9 wrote, and agrees with sn9's validation loss.
order = list(range(len(data)))
random.Random(seed).shuffle(order)
val_idx = sorted(order[:val])
m = LlamaForCausalLM.from_pretrained(sn9_model, torch_dtype=torch.float32, attn_implementation="eager")
with torch.no_grad():
    x = torch.from_numpy(data[val_idx].astype(np.int64))
    logits = m(x).logits[:, :-1]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="none")
    val_loss = ce.reshape(len(val_idx), -1).mean(1).mean().item()
print(json.dumps({"impl": f"torch {torch.__version__} {mode}, transformers", "tokens_per_s": steps * batch * seq / dt,
                  "final_train_loss": loss.item(), "sn9_model_val_loss": val_loss}))
