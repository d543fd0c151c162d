#!/usr/bin/env bash
# Training throughput on CPU, sn9 train (burn-flex + autodiff) vs PyTorch (PyPI torch 2.6.0 +
# transformers' LlamaForCausalLM, torch.optim.AdamW; eager attention, sdpa, and sdpa under
# torch.compile, recorded as not run when it fails), same machine, same run,
# same config (fixtures/train/tiny-llama.json: 4 layers, d 128, ctx 64), batch 12, all cores.
# Also checks that transformers loads the model sn9 wrote and gets sn9's validation loss.
# Not a timed test: `make bench` runs it and appends to bench/results/train.md.
#   bash bench/train.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source bench/lib.sh
torch_stack
cargo build --release --quiet
sn9=target/release/sn9
$sn9 -q data pack fixtures/corpus/tiny.jsonl --tokenizer fixtures/tokenizer/bytes --seq-len 64 --out "$work/shards" >/dev/null
$sn9 --json train --data "$work/shards" --model fixtures/train/tiny-llama.json --out "$work/run" \
  --steps "$((steps + 3))" --batch-size 12 --lr 3e-3 --warmup-steps 3 --save-every 0 --eval-every 0 \
  --save-dtype f32 --seed 0 -q > "$work/sn9.jsonl"
val=$(jq -r '.trajectory.val_sequences' "$work/run/run.json")
for mode in eager sdpa compile; do
  "$venv/bin/python" bench/train.py "$work/shards" fixtures/train/tiny-llama.json "$steps" 12 "$(nproc)" "$work/run/model" 0 "$val" "$mode" > "$work/$mode.json"
done
python3 - "$work/sn9.jsonl" "$work" <<'PY'
import json, sys, os, platform, datetime, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if r["kind"] == "train"][3:]
ours = statistics.median(r["tokens_per_s"] for r in train)
val = [r for r in rows if r["kind"] == "val"][-1]["val_loss"]
print(f"sn9 train:     {ours:.0f} tokens/s (median step), final loss {train[-1]['loss']:.4f}")
day = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
path = "bench/results/train.md"
bad = []
for mode in ("eager", "sdpa", "compile"):
    b = json.loads(open(f"{sys.argv[2]}/{mode}.json").read().splitlines()[-1])
    if "error" in b:
        print(f"{b['impl']}: did not run: {b['error']}")
        with open(path, "a") as f:
            f.write(f"| {day} | {cpu}, {os.cpu_count()} cores | {ours:.0f} | did not run ({b['impl']}: {b['error'][:120]}) | | |\n")
        continue
    ratio = ours / b["tokens_per_s"]
    rel = abs(b["sn9_model_val_loss"] - val) / val
    print(f"{b['impl']}: {b['tokens_per_s']:.0f} tokens/s, final loss {b['final_train_loss']:.4f}; ratio sn9/peer {ratio:.2f}x; "
          f"transformers on sn9's model: val loss {b['sn9_model_val_loss']:.6f} vs sn9 {val:.6f} (rel {rel:.1e})")
    with open(path, "a") as f:
        f.write(f"| {day} | {cpu}, {os.cpu_count()} cores | {ours:.0f} | {b['tokens_per_s']:.0f} ({b['impl']}) | {ratio:.2f}x | {rel:.1e} |\n")
    if rel > 1e-4:
        bad.append(mode)
if bad:
    sys.exit(f"transformers disagrees with sn9's validation loss on sn9's model ({bad})")
PY
