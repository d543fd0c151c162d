#!/usr/bin/env bash
# The ops of the evaluation forward one at a time: burn 0.21's CPU backend (flex, what sn9 runs;
# and ndarray on OpenBLAS, the alternative burn offers, when libopenblas-dev installs) vs torch (bench/lib.sh's PyPI torch), same shapes (bench/eval.sh's model: T 1024, D 512,
# FF 1344, V 100277, 8 heads), same machine and run, all cores. The minimal reproduction of where
# `sn9 eval` loses time to torch; appends to bench/results/ops.md. Not a test.
#   bash bench/ops.sh [T D FF V HEADS]
set -euo pipefail
cd "$(dirname "$0")/.."
shape=("${@:-}")
[ -n "${shape[0]}" ] || shape=(1024 512 1344 100277 8)
source bench/lib.sh
torch_stack
# burn's other CPU backend, ndarray on OpenBLAS, beside flex (Debian's libopenblas-dev).
features=()
if ldconfig -p | grep -q libopenblas || { apt-get install -y -qq libopenblas-dev >/dev/null 2>&1 && ldconfig -p | grep -q libopenblas; }; then
  features=(--features ndarray-bench)
fi
cargo build --release --quiet --example op_bench "${features[@]}"
ours=$(target/release/examples/op_bench "${shape[@]}")
theirs=$("$venv/bin/python" bench/ops.py "${shape[@]}" "$(nproc)")
python3 - "$ours" "$theirs" "${shape[*]}" <<'PY'
import json, sys, os, datetime
ours = [json.loads(l) for l in sys.argv[1].splitlines()]
theirs = {r["op"]: r for r in (json.loads(l) for l in sys.argv[2].splitlines())}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
day = datetime.date.today()
with open("bench/results/ops.md", "a") as f:
    for r in ours:
        b = theirs[r["op"]]
        ratio = b["seconds"] / r["seconds"]
        print(f"{r['op']:>48}: {r['impl']} {r['seconds'] * 1e3:8.1f} ms  {b['impl']} {b['seconds'] * 1e3:8.1f} ms  ratio {ratio:.2f}x")
        f.write(f"| {day} | {cpu}, {os.cpu_count()} cores | {sys.argv[3]} | {r['op']} | {r['seconds'] * 1e3:.1f} ({r['impl']}) | {b['seconds'] * 1e3:.1f} ({b['impl']}) | {ratio:.2f}x |\n")
PY
