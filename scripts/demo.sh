#!/usr/bin/env bash
# make demo: score two sample rounds from fixtures the way a validator would, carrying the EMA
# state between them, and explain each uid's weight. No network, no chain.
set -euo pipefail
bin=${1:-target/release/sn9}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sn9-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== competitions in force at block 5200000"
"$bin" competitions --block 5200000
echo
echo "== round 1 (block 5200000): weights and why"
"$bin" score "$here/fixtures/demo/round1.jsonl" --block 5200000 --neurons 32 \
  --state "$work/state.json" --explain
echo
echo "== round 2 (block 5200300): the EMA carries round 1 forward"
"$bin" score "$here/fixtures/demo/round2.jsonl" --block 5200300 \
  --state "$work/state.json" --out "$work/weights.json" --explain
echo
echo "== what a validator would send on chain (u16 weights, version key 4062), from $work/weights.json"
python3 - "$work/weights.json" <<'PY' || cat "$work/weights.json"
import json, sys
d = json.load(open(sys.argv[1]))
print("uids   ", d["u16_uids"])
print("weights", d["u16_weights"])
PY
