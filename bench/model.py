"""transformers side of bench/model.sh: forward (eager or sdpa attention, argument 6) + the
validator's loss on the same tokens."""
import json, sys, time

import numpy as np
import torch
from transformers import AutoModelForCausalLM

model_dir, t, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
logits_path = sys.argv[4] if len(sys.argv) > 4 else None
torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else torch.get_num_threads())
attn = sys.argv[6] if len(sys.argv) > 6 else "eager"
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation=attn)
model.eval()
v = model.config.vocab_size
ids = torch.tensor([[(i * 7919 + 13) % v for i in range(t)]])
times, loss = [], None
with torch.no_grad():
    for i in range(iters + 1):
        s = time.perf_counter()
        logits = model(ids).logits
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]).item()
        if i > 0:
            times.append(time.perf_counter() - s)
    if logits_path:
        ref = np.fromfile(logits_path, dtype="<f4").reshape(1, -1, v)
        n = ref.shape[1]
        ours = model(ids[:, :n]).logits.numpy()
        err = float(np.abs(ours - ref).max() / np.abs(ours).max())
    else:
        err = None
times.sort()
m = times[len(times) // 2]
print(json.dumps({"impl": f"transformers-{__import__('transformers').__version__}-{attn}-torch-{torch.__version__}",
                  "seq_len": t, "median_s": m, "tokens_per_s": t / m, "loss": loss,
                  "logits_rel_err_vs_sn9": err, "threads": torch.get_num_threads()}))
