#!/usr/bin/env bash
# `sn9 data pack` against the peers users run today: `tiktoken` (encode_ordinary_batch on all
# cores, an Encoding built from the same tokenizer.json) and current HF `tokenizers`
# (encode_batch), each followed by numpy packing. Same corpus (the King James Bible from Debian's
# bible-kjv, public domain, one document per chapter, repeated), same cl100k tokenizer, same
# machine and run; the ids of all three are compared window by window. Best of RUNS for each
# side; sn9's time is the whole process (start, tokenizer load, reading, writing), the peers'
# excludes interpreter start and tokenizer load. Not a test: `make bench` runs it.
#   bash bench/pack.sh [REPEAT=4] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-4}
runs=${2:-3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
source bench/lib.sh
tok_stack
command -v bible >/dev/null || { apt-get update -qq && apt-get install -y -qq bible-kjv >/dev/null; }
cargo build --release --quiet
# Documents: the chapters of the KJV text (`bible` prints a "Book N" heading per chapter), as
# JSON Lines, the whole text repeated REPEAT times.
bible "Gen1:1-Rev22:21" > "$work/kjv.txt"
python3 - "$work/kjv.txt" "$work/corpus.jsonl" "$repeat" <<'PY'
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
chapters = [c.strip() for c in re.split(r"\n(?=\S[^\n]* \d+\n)", text) if c.strip()]
with open(sys.argv[2], "w") as o:
    for _ in range(int(sys.argv[3])):
        for c in chapters:
            o.write(json.dumps({"text": c}) + "\n")
PY
tok=fixtures/tokenizer/cl100k/tokenizer.json
for i in $(seq "$runs"); do
  rm -rf "$work/packed"
  start=$(date +%s.%N)
  target/release/sn9 -q --json data pack "$work/corpus.jsonl" --tokenizer fixtures/tokenizer/cl100k --seq-len 4096 --out "$work/packed" > "$work/sn9.json"
  end=$(date +%s.%N)
  echo "$start $end" >> "$work/sn9.times"
  for impl in tiktoken tokenizers; do
    "$tok_venv/bin/python" bench/pack.py "$impl" "$tok" "$work/corpus.jsonl" 4096 "$work/$impl.u32" "$(nproc)" >> "$work/$impl.jsonl"
  done
done
python3 - "$work" <<'PY'
import json, sys, datetime, os
work = sys.argv[1]
m = json.load(open(f"{work}/sn9.json"))
tokens = m["origin"]["stats"]["tokens"]
ours = min(float(b) - float(a) for a, b in (l.split() for l in open(f"{work}/sn9.times")))
shards = b"".join(open(f"{work}/packed/{s['file']}", "rb").read() for s in m["shards"])
peers = {}
for impl in ("tiktoken", "tokenizers"):
    rows = [json.loads(l) for l in open(f"{work}/{impl}.jsonl")]
    best = min(rows, key=lambda r: r["seconds"])
    assert best["tokens"] == tokens, f"{impl}: {best['tokens']} tokens, sn9 {tokens}"
    same = open(f"{work}/{impl}.u32", "rb").read() == shards
    peers[impl] = (best, same)
    print(f"{best['impl']:>18}: {best['seconds']:.2f} s ({tokens / best['seconds']:.0f} tok/s), ids {'identical' if same else 'DIFFER'}")
print(f"{'sn9 data pack':>18}: {ours:.2f} s ({tokens / ours:.0f} tok/s)")
faster = min(peers.values(), key=lambda p: p[0]["seconds"])[0]
ratio = faster["seconds"] / ours
print(f"ratio vs the faster peer ({faster['impl']}): {ratio:.2f}x")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
tt, tk = peers["tiktoken"][0], peers["tokenizers"][0]
with open("bench/results/pack.md", "a") as f:
    f.write(f"| {datetime.date.today()} | {cpu}, {os.cpu_count()} cores | KJV ×{len(open(f'{work}/corpus.jsonl').readlines()) // 1189}, {tokens} tokens, seq 4096 | "
            f"{ours:.2f} | {tt['seconds']:.2f} ({tt['impl']}) | {tk['seconds']:.2f} ({tk['impl']}) | {ratio:.2f}x | "
            f"{'yes' if all(s for _, s in peers.values()) else 'NO'} |\n")
if not all(s for _, s in peers.values()):
    sys.exit("ids differ")
PY
