#!/usr/bin/env bash
# GPU evaluation throughput at the subnet's 3.3B shape (competition 2), sn9 (burn-cuda, bf16) vs
# the reference's code path (transformers, bf16, batch 1, full logits, per-batch .item()), on the
# same GPU in the same run, with MFU. Needs an NVIDIA GPU and, for the reference side, a CUDA torch.
#   bash bench/eval_gpu.sh [SEQ_LEN=4096] [ITERS=5] [PEAK_TFLOPS=989 (H100 SXM bf16 dense)]
# SN9_BIN: a cuda build of sn9 to use instead of building one (bench/gpu.sh passes it). The peak
# GPU memory of each side is read from nvidia-smi while it runs, next to sn9's own estimate.
# Record the printed line in bench/results/eval-gpu.md with the machine and date.
set -euo pipefail
cd "$(dirname "$0")/.."
seq=${1:-4096}; iters=${2:-5}; peak=${3:-989}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-12080}
sn9=${SN9_BIN:-target/release/sn9}
[ -n "${SN9_BIN:-}" ] || cargo build --release --quiet --features cuda
# Peak memory.used of GPU 0 while "$@" runs (MiB), printed after its output.
peak_mem() {
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 > "$work/mem.log" 2>/dev/null &
  local poll=$!
  "$@"; local rc=$?
  kill $poll 2>/dev/null; wait $poll 2>/dev/null
  echo "peak GPU memory: $(sort -n "$work/mem.log" | tail -1) MiB"
  return $rc
}
# A Llama at the B3 shape with the subnet's vocabulary (3.33B parameters; `sn9 model info` says it fits).
cat > "$work/config.json" <<JSON
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 100352, "hidden_size": 3072,
 "intermediate_size": 8192, "num_hidden_layers": 30, "num_attention_heads": 24, "num_key_value_heads": 8,
 "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": true,
 "initializer_range": 0.02, "hidden_act": "silu", "torch_dtype": "bfloat16"}
JSON
"$sn9" -q model init --model-config "$work/config.json" --dtype bf16 --seed 1 "$work/m" >/dev/null
"$sn9" model info "$work/m" --block 5200000 --memory --seq-len "$seq" --device cuda:0 --device-memory-gib 80
peak_mem "$sn9" model bench "$work/m" --seq-len "$seq" --iters "$iters" --device cuda:0 --dtype bf16 \
  --peak-tflops "$peak" | sed 's/^/sn9: /'

if python3 -c "import torch, transformers; assert torch.cuda.is_available()" 2>/dev/null; then
  peak_mem python3 - "$work/m" "$seq" "$iters" "$peak" <<'PY'
import json, sys, time, torch
from transformers import AutoModelForCausalLM
d, t, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    import flash_attn  # noqa: F401
    attn = "flash_attention_2"
except ImportError:
    attn = "sdpa"
m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.bfloat16, attn_implementation=attn).cuda().eval()
ids = torch.tensor([[(i * 7919 + 13) % m.config.vocab_size for i in range(t)]]).cuda()
ts = []
with torch.no_grad():
    for i in range(iters + 1):
        torch.cuda.synchronize(); s = time.perf_counter()
        logits = m(ids).logits
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]).item()
        torch.cuda.synchronize()
        if i: ts.append(time.perf_counter() - s)
ts.sort(); med = ts[len(ts) // 2]
c = m.config
n = sum(p.numel() for p in m.parameters()) - c.vocab_size * c.hidden_size  # as sn9 model bench
flops = 2 * n * t + 2 * c.num_hidden_layers * t * t * c.hidden_size
print("transformers:", json.dumps({"attn": attn, "tokens_per_s": t / med, "median_s": med, "loss": loss,
      "mfu": flops / med / (float(sys.argv[4]) * 1e12), "max_allocated": torch.cuda.max_memory_allocated()}))
PY
else
  echo "transformers side skipped: no CUDA torch + transformers in this Python"
fi
