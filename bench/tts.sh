#!/usr/bin/env bash
# TTS synthesis on CPU, sn9 vs the reference's own code, same machine, same run: taoverse 2.0.2's
# E2TTS (PyPI wheel, installed without its dependencies, as shared/ttsref describes) + vocos
# 0.1.0 on torch 2.6.0 (PyPI), and `sn9 tts synth`, on the same model directory written by
# `sn9 model init` (a not-trivial E2TTS: dim 256, depth 8, 8 heads; euler, 16 steps, CFG),
# a Vocos vocoder of the real charactr/vocos-mel-24khz shape (dim 512, 8 layers; random weights
# saved by vocos itself as config.yaml + pytorch_model.bin), the same reference clip, texts and
# seed. Mel frames per second of synthesis (sampling + vocoder + RMS rule; the prompt's frames
# included, as the sampler computes them); model loading excluded on both sides.
# Not a timed test: `make bench` runs it and appends to bench/results/tts.md.
#   bash bench/tts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. bench/tts_models.sh
"$venv/bin/python" - "$work" <<'PY'
import sys, wave, numpy as np
work = sys.argv[1]
# A 4 s voiced-like reference clip: harmonics of a gliding pitch under a syllable envelope.
t = np.arange(4 * 24000) / 24000
f0 = 120 + 30 * np.sin(2 * np.pi * 0.5 * t)
ph = 2 * np.pi * np.cumsum(f0) / 24000
x = sum(np.sin(k * ph) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) * 0.2
with wave.open(f"{work}/ref.wav", "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(24000)
    w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
PY
ref_text="so we started as an organisation in two thousand and nine"
printf '%s\n' "$ref_text" "thank you very much for coming out tonight" \
  "we support agriculture in this state and we always will" \
  "this election is very important to the state" > "$work/texts.txt"
seed=105612328450927153666692550436684316875579843404759796121253493450818295067238
theirs=$("$venv/bin/python" bench/tts.py "$work/model" "$work/vocos" "$work/ref.wav" "$work/texts.txt" "$seed")
: > "$work/sn9.jsonl"
tail -n +2 "$work/texts.txt" | while IFS= read -r q; do
  $sn9 --json -q tts synth "$work/model" --ref-audio "$work/ref.wav" --ref-text "$ref_text" --text "$q" \
    --vocoder "$work/vocos" --seed "$seed" --out "$work/out.wav" >> "$work/sn9.jsonl"
done
python3 - "$work/sn9.jsonl" "$theirs" <<'PY'
import json, sys, os, platform, datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
frames = sum(r["frames"] for r in rows)
ours = frames / sum(r["synth_s"] for r in rows)
b = json.loads(sys.argv[2])
assert b["frames"] == frames, (b["frames"], frames)
theirs = b["frames"] / b["synth_s"]
ratio = ours / theirs
print(f"sn9 tts synth:     {ours:.1f} mel frames/s ({frames} frames, {len(rows)} texts)")
print(f"reference (torch {b['torch']}, {b['threads']} threads): {theirs:.1f} mel frames/s")
print(f"ratio sn9/reference: {ratio:.2f}x")
day = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
path = "bench/results/tts.md"
if not os.path.exists(path):
    with open(path, "w") as f:
        f.write("# TTS synthesis (CPU)\n\nbench/tts.sh: E2TTS dim 256 depth 8 (euler, 16 steps, CFG 2) + Vocos of the real "
                "charactr/vocos-mel-24khz shape, 3 texts with a 4 s reference clip; mel frames per second of sampling + "
                "vocoder + RMS rule (model loading excluded). Reference: taoverse 2.0.2 + vocos 0.1.0 on torch 2.6.0 (PyPI).\n\n"
                "| date | machine | sn9 frames/s | reference frames/s | ratio |\n|---|---|---|---|---|\n")
with open(path, "a") as f:
    f.write(f"| {day} | {cpu}, {os.cpu_count()} cores | {ours:.1f} | {theirs:.1f} (torch {b['torch']}) | {ratio:.2f}x |\n")
PY
