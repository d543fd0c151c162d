#!/usr/bin/env bash
# GPU training throughput and MFU, sn9 train (burn-cuda, bf16 compute, f32 master weights) vs a
# nanoGPT-style PyTorch loop (transformers LlamaForCausalLM, bf16 autocast, fused AdamW) on the
# same GPU in the same run, at two shapes: ~124M (12L d768, ctx 1024) and ~1B (16L d2048, ctx 2048).
# Needs an NVIDIA GPU; the PyTorch side needs a CUDA torch + transformers and is skipped (with the
# reason printed) without them. Record the printed lines in bench/results/train-gpu.md.
#   bash bench/train_gpu.sh [STEPS=20] [PEAK_TFLOPS=989 (H100 SXM bf16 dense)] [DEVICES=cuda:0] [SHAPES=124m,1b]
# SN9_BIN: a cuda build of sn9 to use instead of building one (bench/gpu.sh passes it).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-20}; peak=${2:-989}; devices=${3:-cuda:0}; shapes=${4:-124m,1b}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-12080}
sn9=${SN9_BIN:-target/release/sn9}
[ -x "$sn9" ] || cargo build --release --quiet --features cuda
# Random tokens are enough for throughput: a shard directory written directly.
write_shards() { # DIR SEQ VOCAB SEQUENCES
  python3 - "$@" <<'PY'
import json, os, random, struct, sys
d, seq, vocab, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(d, exist_ok=True)
r = random.Random(0)
with open(f"{d}/shard-00000.bin", "wb") as f:
    for _ in range(n):
        f.write(struct.pack(f"<{seq}I", *[r.randrange(vocab) for _ in range(seq)]))
json.dump({"schema": "sn9.tokens", "version": 1, "seq_len": seq, "eos_id": 0, "tokenizer": None,
           "shards": [{"name": "shard-00000", "file": "shard-00000.bin", "tokens": n * seq, "sequences": n,
                       "source": None}], "origin": {"command": "bench/train_gpu.sh"}}, open(f"{d}/manifest.json", "w"))
PY
}
run_shape() { # NAME LAYERS D HEADS KV INTER SEQ BATCH
  local name=$1 l=$2 d=$3 h=$4 kv=$5 i=$6 seq=$7 b=$8 vocab=50304
  cat > "$work/$name.json" <<JSON
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": $vocab, "hidden_size": $d,
 "intermediate_size": $i, "num_hidden_layers": $l, "num_attention_heads": $h, "num_key_value_heads": $kv,
 "max_position_embeddings": $seq, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true,
 "initializer_range": 0.02, "hidden_act": "silu", "torch_dtype": "float32"}
JSON
  write_shards "$work/$name-shards" "$seq" "$vocab" $(( (steps + 4) * b * 2 + 8 ))
  "$sn9" --json train --data "$work/$name-shards" --model "$work/$name.json" --out "$work/$name-run" \
    --steps $((steps + 3)) --batch-size "$b" --warmup-steps 3 --save-every 0 --eval-every 0 --val-sequences 1 \
    --dtype bf16 --device "$devices" --peak-tflops "$peak" -q > "$work/$name.jsonl"
  python3 - "$work/$name.jsonl" "$name" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l][3:]
tps = statistics.median(r["tokens_per_s"] for r in rows); mfu = statistics.median(r["mfu"] for r in rows)
print(f"sn9 {sys.argv[2]}: {tps:.0f} tokens/s, MFU {mfu*100:.1f}% (PaLM 6N+12LdT)")
PY
  if python3 -c "import torch, transformers; assert torch.cuda.is_available()" 2>/dev/null; then
    python3 - "$work/$name.json" "$seq" "$b" "$steps" "$peak" "$name" <<'PY'
import json, sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
cfg_path, seq, b, steps, peak, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
cfg = LlamaConfig.from_json_file(cfg_path); cfg._attn_implementation = "sdpa"
m = LlamaForCausalLM(cfg).cuda()
opt = torch.optim.AdamW(m.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
x = torch.randint(0, cfg.vocab_size, (b, seq), device="cuda")
for i in range(steps + 3):
    if i == 3: torch.cuda.synchronize(); t0 = time.perf_counter()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = m(x, labels=x).loss
    loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True)
torch.cuda.synchronize(); tps = steps * b * seq / (time.perf_counter() - t0)
n = sum(p.numel() for p in m.parameters())
fpt = 6 * n + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq
print(f"pytorch {name}: {tps:.0f} tokens/s, MFU {fpt * tps / (peak * 1e12) * 100:.1f}%")
PY
  else
    echo "pytorch $name: skipped (no CUDA torch + transformers in this Python)"
  fi
}
case ",$shapes," in *,124m,*) run_shape 124m 12 768 12 12 2048 1024 16 ;; esac
case ",$shapes," in *,1b,*) run_shape 1b 16 2048 16 8 5632 2048 4 ;; esac
