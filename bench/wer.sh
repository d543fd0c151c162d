#!/usr/bin/env bash
# The TTS competition's whole evaluation of one model on CPU, sn9 vs the reference's code, same
# machine, same run: `sn9 eval` on speech batches (synthesis + vocoder + Whisper + WER) against
# the validator's compute_wer with taoverse 2.0.2's E2TTS, vocos 0.1.0, transformers 4.44.1's ASR
# pipeline and jiwer 3.1.0 on torch 2.6.0 (PyPI), on the same batches (the eight clips of
# fixtures/demo/speech.jsonl through `sn9 data pack-speech`), the same seed and models: the E2TTS
# of bench/tts.sh (dim 256, depth 8; euler, 16 steps, CFG), a Vocos of the real
# charactr/vocos-mel-24khz shape (random weights) and the tiny random Whisper of
# fixtures/ttsref/whisper_tiny (the real large-v2 cannot be downloaded here). Wall time per
# model including loading; both sides' scores are printed.
# Not a timed test: `make bench` runs it and appends to bench/results/wer.md.
#   bash bench/wer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. bench/tts_models.sh
"$venv/bin/python" -c "import transformers, jiwer" 2>/dev/null ||
  "$venv/bin/python" -m pip install -q transformers==4.44.1 jiwer==3.1.0
seed=105612328450927153666692550436684316875579843404759796121253493450818295067238
$sn9 -q data pack-speech fixtures/demo/speech.jsonl --seed "$seed" --out "$work/speech" >/dev/null
asr=fixtures/ttsref/whisper_tiny
theirs=$("$venv/bin/python" bench/wer.py "$work/model" "$work/vocos" "$asr" "$work/speech" "$seed")
start=$(date +%s.%N)
ours=$(SN9_SCHEDULE=fixtures/demo/schedule.json $sn9 -q eval "$work/model" --batches "$work/speech" \
  --competition 6 --skip-checks --vocoder "$work/vocos" --asr "$asr")
end=$(date +%s.%N)
python3 - "$ours" "$theirs" "$start" "$end" <<'PY'
import json, sys, os, platform, datetime
ours = json.loads(sys.argv[1]); b = json.loads(sys.argv[2])
sn9_s = float(sys.argv[4]) - float(sys.argv[3])
ref_s = b["load_s"] + b["eval_s"]
ratio = ref_s / sn9_s
print(f"sn9 eval:  {sn9_s:.1f} s for {b['samples']} samples, mean WER {ours['loss']}")
print(f"reference (torch {b['torch']}, {b['threads']} threads): {ref_s:.1f} s (load {b['load_s']:.1f} s), mean WER {b['score']}")
print(f"ratio sn9/reference (speed): {ratio:.2f}x")
day = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
path = "bench/results/wer.md"
if not os.path.exists(path):
    with open(path, "w") as f:
        f.write("# TTS evaluation, whole WER (CPU)\n\nbench/wer.sh: one E2TTS (dim 256, depth 8; euler, 16 steps, CFG 2) "
                "evaluated on 8 speech samples: synthesis + Vocos (real shape, random) + Whisper (fixtures/ttsref/whisper_tiny) "
                "+ WER. sn9: `sn9 eval` wall time (process, loading included). Reference: compute_wer's code with taoverse 2.0.2, "
                "vocos 0.1.0, transformers 4.44.1, jiwer 3.1.0 on torch 2.6.0 (PyPI), in-process time (loading included, "
                "imports excluded).\n\n"
                "| date | machine | sn9 s | reference s | ratio | sn9 WER | reference WER |\n|---|---|---|---|---|---|---|\n")
with open(path, "a") as f:
    f.write(f"| {day} | {cpu}, {os.cpu_count()} cores | {sn9_s:.1f} | {ref_s:.1f} (torch {b['torch']}) | {ratio:.2f}x | {ours['loss']} | {b['score']} |\n")
PY
