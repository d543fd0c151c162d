#!/usr/bin/env bash
# `sn9 data pack` tokens/s vs Python `tokenizers` (batch encode) + numpy packing, same corpus
# (the King James Bible from Debian's bible-kjv, public domain, one document per chapter), same
# tokenizer (cl100k), same machine and run. Not a test: `make bench` runs it.
#   bash bench/pack.sh [REPEAT=4]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-4}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
command -v bible >/dev/null || { apt-get update -qq && apt-get install -y -qq bible-kjv >/dev/null; }
venv=bench/.venv
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -c "import tokenizers, numpy" 2>/dev/null || "$venv/bin/pip" install -q "tokenizers==0.19.1" numpy
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
start=$(date +%s.%N)
target/release/sn9 -q --json data pack "$work/corpus.jsonl" --tokenizer fixtures/tokenizer/cl100k --seq-len 4096 --out "$work/packed" > "$work/sn9.json"
end=$(date +%s.%N)
theirs=$("$venv/bin/python" bench/pack.py "$tok" "$work/corpus.jsonl" 4096)
python3 - "$work/sn9.json" "$start" "$end" "$theirs" <<'PY'
import json, sys, datetime, os
m = json.load(open(sys.argv[1])); t = float(sys.argv[3]) - float(sys.argv[2]); b = json.loads(sys.argv[4])
tokens = m["origin"]["stats"]["tokens"]
ours = tokens / t
print(f"sn9 data pack: {tokens} tokens in {t:.2f}s = {ours:.0f} tok/s; {b['impl']}: {b['tokens']} tokens in {b['seconds']:.2f}s = {b['tokens_per_s']:.0f} tok/s; ratio {ours / b['tokens_per_s']:.2f}x")
assert tokens == b["tokens"], "token counts differ"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
with open("bench/results/pack.md", "a") as f:
    f.write(f"| {datetime.date.today()} | {cpu}, {os.cpu_count()} cores | KJV, {tokens} tokens, seq 4096, cl100k | {ours:.0f} | {b['tokens_per_s']:.0f} | {ours / b['tokens_per_s']:.2f}x |\n")
PY
