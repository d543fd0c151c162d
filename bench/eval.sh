#!/usr/bin/env bash
# `sn9 eval` end to end against the reference validator's `compute_text_loss` (sanity gate, then
# the loss of every batch) on current PyPI torch + transformers 4.44.1, sdpa and eager attention,
# torch threads = cores. Same model (`sn9 model init`: Llama, vocabulary 100277 as cl100k's,
# f32), same batches (the KJV's first chapters packed by `sn9 data pack --task FINEWEB`), same
# machine and run. Both sides are timed as whole processes (start, load, gate, losses: what a
# validator waits for), best of RUNS; the peak RSS of each comes from /usr/bin/time. Not a test:
# `make bench` runs it and appends to bench/results/eval.md.
#   bash bench/eval.sh [HIDDEN=512] [LAYERS=8] [BATCHES=6] [SEQ=1024] [RUNS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
hidden=${1:-512}; layers=${2:-8}; nb=${3:-6}; seq=${4:-1024}; runs=${5:-2}
work=$(mktemp -d); [ -n "${SN9_BENCH_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
source bench/lib.sh
torch_stack
command -v bible >/dev/null || { apt-get update -qq && apt-get install -y -qq bible-kjv >/dev/null; }
cargo build --release --quiet
sn9=target/release/sn9
heads=$((hidden / 64))
cat > "$work/config.json" <<JSON
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 100277,
 "hidden_size": $hidden, "intermediate_size": $((hidden * 8 / 3 / 64 * 64)), "num_hidden_layers": $layers,
 "num_attention_heads": $heads, "num_key_value_heads": $heads, "max_position_embeddings": 4096,
 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false, "hidden_act": "silu",
 "initializer_range": 0.1, "bos_token_id": 100257, "eos_token_id": 100257, "torch_dtype": "float32"}
JSON
# initializer_range 0.1, not 0.02: at 0.02 a random model's greedy generations repeat one token,
# so both sides fail the sanity gate and never compute a loss (checked: they agree on that too).
$sn9 -q model init --model-config "$work/config.json" --seed 7 "$work/model" >/dev/null
bible "Gen1:1-Exo40:38" | python3 -c "import json,sys; print(json.dumps({'text': sys.stdin.read()}))" > "$work/text.jsonl"
$sn9 -q data pack "$work/text.jsonl" --tokenizer fixtures/tokenizer/cl100k --seq-len "$seq" --task FINEWEB --out "$work/all" >/dev/null
# Keep the first BATCHES sequences.
python3 - "$work/all" "$work/batches" "$nb" "$seq" <<'PY'
import json, os, shutil, sys
src, dst, n, seq = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
m = json.load(open(f"{src}/manifest.json"))
os.makedirs(dst)
s = m["shards"][0]
data = open(f"{src}/{s['file']}", "rb").read()[: n * seq * 4]
assert len(data) == n * seq * 4, "not enough text for the batches"
open(f"{dst}/{s['file']}", "wb").write(data)
s["tokens"], s["sequences"] = n * seq, n
m["shards"] = [s]
json.dump(m, open(f"{dst}/manifest.json", "w"))
PY
timed() { # NAME CMD...: appends "seconds peak_kib" to $work/NAME.times, stdout to $work/NAME.out
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" > "$work/$name.out"
  cat "$work/t" >> "$work/$name.times"
}
for i in $(seq "$runs"); do
  timed sn9 $sn9 -q --json eval --batches "$work/batches" --competition 2 --skip-checks "$work/model"
  for attn in sdpa eager; do
    timed "$attn" "$venv/bin/python" bench/eval.py "$work/model" "$work/batches/FINEWEB.bin" "$seq" 100257 "$attn" "$(nproc)"
  done
done
python3 - "$work" "$hidden" "$layers" "$nb" "$seq" <<'PY'
import json, sys, os, datetime, statistics
work, hidden, layers, nb, seq = sys.argv[1], *sys.argv[2:]
def best(name):
    rows = [tuple(map(float, l.split())) for l in open(f"{work}/{name}.times")]
    return min(rows)
rows = [json.loads(l) for l in open(f"{work}/sn9.out") if l.strip()]
ours_loss = next(r["loss"] for r in rows if r.get("task") == "FINEWEB")
t_ours, m_ours = best("sn9")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"sn9 eval: {t_ours:.1f} s, {m_ours / 1024:.0f} MiB peak, loss {ours_loss:.6f}")
for attn in ("sdpa", "eager"):
    b = json.loads(open(f"{work}/{attn}.out").read().splitlines()[-1])
    t, m = best(attn)
    loss = statistics.fmean(b["losses"])
    rel = abs(loss - ours_loss) / abs(ours_loss)
    print(f"{b['impl']}: {t:.1f} s ({b['load_s']:.1f} s load, {b['compute_text_loss_s']:.1f} s compute_text_loss), "
          f"{m / 1024:.0f} MiB peak, loss {loss:.6f} (rel diff {rel:.1e}); speed ratio sn9/peer {t / t_ours:.2f}x, memory {m / m_ours:.2f}x")
    with open("bench/results/eval.md", "a") as f:
        f.write(f"| {datetime.date.today()} | {cpu}, {os.cpu_count()} cores | Llama d{hidden} L{layers} V100277, {nb}×{seq}, f32 | "
                f"{t_ours:.1f} s, {m_ours / 1024:.0f} MiB | {t:.1f} s ({b['compute_text_loss_s']:.1f} s in the call), {m / 1024:.0f} MiB ({b['impl']}) | "
                f"{t / t_ours:.2f}x | {m / m_ours:.2f}x | {rel:.1e} |\n")
    if rel > 1e-4:
        sys.exit(f"losses disagree: sn9 {ours_loss} vs {loss}")
PY
