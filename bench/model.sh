#!/usr/bin/env bash
# Forward-pass throughput, sn9 (burn-flex, CPU) vs transformers eager (torch CPU), same machine,
# same run, same model and tokens, both on all cores (run it on an idle machine). Also checks that transformers loads the model sn9 saved and
# computes the same logits. Not a timed test: `make bench` runs it and records the result.
#   bash bench/model.sh [SEQ_LEN] [ITERS]
set -euo pipefail
cd "$(dirname "$0")/.."
seq=${1:-1024}
iters=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Python side: Debian's torch (CPU) + transformers 4.44.1 (the reference's pin) in a venv.
source bench/lib.sh
torch_stack

cargo build --release --quiet --example forward_bench
cargo build --release --quiet
cat > "$work/config.json" <<JSON
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32000,
 "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 4, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": false, "initializer_range": 0.02,
 "hidden_act": "silu", "torch_dtype": "float32"}
JSON
target/release/sn9 -q model init --model-config "$work/config.json" --seed 7 "$work/model" >/dev/null

ours=$(target/release/examples/forward_bench "$work/model" "$seq" "$iters" "$work/logits.bin")
theirs=$("$venv/bin/python" bench/model.py "$work/model" "$seq" "$iters" "$work/logits.bin" "$(nproc)")
echo "sn9:          $ours"
echo "transformers: $theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys, platform, os, datetime
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratio = a["tokens_per_s"] / b["tokens_per_s"]
print(f"ratio sn9/transformers tokens/s: {ratio:.2f}x   loss sn9 {a['loss']:.6f} vs {b['loss']:.6f}   "
      f"logits rel err (transformers on sn9's saved model) {b['logits_rel_err_vs_sn9']:.2e}")
os.makedirs("bench/results", exist_ok=True)
day = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
with open("bench/results/model-forward.md", "a") as f:
    f.write(f"| {day} | {cpu}, {os.cpu_count()} cores | Llama 2L d256 V32000, seq {a['seq_len']}, f32 | "
            f"{a['tokens_per_s']:.0f} | {b['tokens_per_s']:.0f} ({b['impl']}) | {ratio:.2f}x | {b['logits_rel_err_vs_sn9']:.1e} |\n")
PY
