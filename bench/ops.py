"""torch side of bench/ops.sh: the same ops as examples/op_bench.rs, same shapes, torch threads =
cores. One JSON line per op: median seconds of 5 runs after a warm-up."""
import json, sys, time

import torch

t, d, ff, v, heads, threads = (int(a) for a in sys.argv[1:7])
torch.set_num_threads(threads)


def timed(f):
    times = []
    for i in range(6):
        s = time.perf_counter()
        f()
        if i:
            times.append(time.perf_counter() - s)
    times.sort()
    return times[len(times) // 2]


x, w_head, w_up, w_down, h_ff = (torch.randn(*s) for s in ((t, d), (d, v), (d, ff), (ff, d), (t, ff)))
logits = x @ w_head
hd = d // heads
q = torch.randn(1, heads, t, hd)
ops = [
    ("matmul lm head [T,D]x[D,V]", lambda: x @ w_head),
    ("matmul mlp up [T,D]x[D,FF]", lambda: x @ w_up),
    ("matmul mlp down [T,FF]x[FF,D]", lambda: h_ff @ w_down),
    ("logsumexp [T,V]", lambda: torch.logsumexp(logits, 1)),
    ("exp [T,V]", lambda: logits.exp()),
    ("silu [T,FF]", lambda: torch.nn.functional.silu(h_ff)),
    ("causal attention [1,H,T,D/H]", lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)),
    ("transpose+contiguous [1,T,H,D/H]->[1,H,T,D/H]", lambda: q.transpose(1, 2).contiguous()),
]
with torch.no_grad():
    for op, f in ops:
        print(json.dumps({"impl": f"torch {torch.__version__}", "op": op, "seconds": timed(f)}))
