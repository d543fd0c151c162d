#!/usr/bin/env bash
# Forward-pass throughput, sn9 (burn-flex, CPU) vs transformers with sdpa and with eager attention
# (PyPI torch 2.6.0 on the CPU, bench/lib.sh), same machine,
# same run, same model and tokens, both on all cores (run it on an idle machine). Also checks that transformers loads the model sn9 saved and
# computes the same logits. Not a timed test: `make bench` runs it and records the result.
#   bash bench/model.sh [SEQ_LEN] [ITERS] [llama|gemma2|phi]
set -euo pipefail
cd "$(dirname "$0")/.."
seq=${1:-1024}
iters=${2:-5}
arch=${3:-llama}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Python side: torch 2.6.0 + transformers 4.44.1 (the reference's pins) in a venv.
source bench/lib.sh
torch_stack

cargo build --release --quiet --example forward_bench
cargo build --release --quiet
# The same size for every class (d256, 2 layers, 4 heads, V32000): Gemma2 and Phi rows are
# comparable with the Llama row (issue 17: neither more than 1.5x slower than Llama).
common='"vocab_size": 32000, "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 4, "max_position_embeddings": 4096, "initializer_range": 0.02,
 "rope_theta": 10000.0, "torch_dtype": "float32"'
case "$arch" in
  llama) cfg='"architectures": ["LlamaForCausalLM"], "model_type": "llama", "intermediate_size": 688,
 "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "hidden_act": "silu"'; label="Llama" ;;
  gemma2) cfg='"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "intermediate_size": 688,
 "head_dim": 64, "query_pre_attn_scalar": 64, "sliding_window": 4096, "rms_norm_eps": 1e-6'; label="Gemma2" ;;
  phi) cfg='"architectures": ["PhiForCausalLM"], "model_type": "phi", "intermediate_size": 1024,
 "partial_rotary_factor": 0.5, "tie_word_embeddings": false'; label="Phi" ;;
  *) echo "unknown architecture $arch (llama, gemma2, phi)"; exit 1 ;;
esac
echo "{$cfg, $common}" > "$work/config.json"
target/release/sn9 -q model init --model-config "$work/config.json" --seed 7 "$work/model" >/dev/null

ours=$(target/release/examples/forward_bench "$work/model" "$seq" "$iters" "$work/logits.bin")
echo "sn9:          $ours"
for attn in sdpa eager; do
theirs=$("$venv/bin/python" bench/model.py "$work/model" "$seq" "$iters" "$work/logits.bin" "$(nproc)" "$attn")
echo "transformers: $theirs"
python3 - "$ours" "$theirs" "$label" <<'PY'
import json, sys, platform, os, datetime
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
label = sys.argv[3]
ratio = a["tokens_per_s"] / b["tokens_per_s"]
print(f"ratio sn9/transformers tokens/s: {ratio:.2f}x   loss sn9 {a['loss']:.6f} vs {b['loss']:.6f}   "
      f"logits rel err (transformers on sn9's saved model) {b['logits_rel_err_vs_sn9']:.2e}")
os.makedirs("bench/results", exist_ok=True)
day = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
with open("bench/results/model-forward.md", "a") as f:
    f.write(f"| {day} | {cpu}, {os.cpu_count()} cores | {label} 2L d256 V32000, seq {a['seq_len']}, f32 | "
            f"{a['tokens_per_s']:.0f} | {b['tokens_per_s']:.0f} ({b['impl']}) | {ratio:.2f}x | {b['logits_rel_err_vs_sn9']:.1e} |\n")
PY
done
