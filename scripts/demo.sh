#!/usr/bin/env bash
# make demo: the whole subnet offline on 2 cores, in minutes. A local chain and a local hub;
# a validator and five miners in three competitions, shaped and weighted as the live schedule
# (fixtures/demo/schedule.json): three tiny Llamas trained on the fixture corpus for different
# numbers of steps (two in the B3-like competition 2, 15% of the reward; one in the B14-like
# competition 4, 30%) and two tiny E2TTS models (the TTS competition 6, 55%), each pushed to the hub and committed on chain at a different block; then two
# `sn9 validate --once` rounds with blocks advanced between them, and the weights explained.
#   bash scripts/demo.sh [SN9_BINARY] [WORK_DIR]
set -euo pipefail
bin=$(realpath "${1:-target/release/sn9}")
here=$(cd "$(dirname "$0")/.." && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/sn9-demo.XXXXXX")}
mkdir -p "$work"
cd "$work"
say() { printf '\n== %s\n' "$*"; }
sn9() { "$bin" "$@"; }
export SN9_NETWORK="file://$work/chain" SN9_HUB="file://$work/hub" SN9_WALLET_PATH="$work/wallets"
export SN9_SCHEDULE="$here/fixtures/demo/schedule.json" HF_HOME="$work/hf" SN9_NETUID=9
corpus="$here/fixtures/corpus/tiny.jsonl"
tok="$here/fixtures/tokenizer/bytes"

say "a local chain (subnet 9, weights rate limit 10 blocks) and the competition"
sn9 chain local init "$work/chain" --weights-rate-limit 10 --block 1000 >/dev/null
sn9 competitions

say "wallets: a validator and five miners, registered on subnet 9"
for w in vali m1 m2 m3 m4 m5; do sn9 -q wallet create --no-password --wallet-name "$w" >/dev/null; done
sn9 -q chain local register --wallet-name vali --stake 10000 --validator >/dev/null
for w in m1 m2 m3 m4 m5; do sn9 -q chain local register --wallet-name "$w" >/dev/null; done
sn9 chain metagraph

say "data: the fixture corpus packed for training (first 320 documents) and held out for evaluation"
head -n 320 "$corpus" > train.jsonl
tail -n 80 "$corpus" > heldout.jsonl
sn9 -q data pack train.jsonl --tokenizer "$tok" --seq-len 32 --out shards >/dev/null
sn9 -q data pack heldout.jsonl --tokenizer "$tok" --seq-len 32 --task TINY --out eval >/dev/null

say "text miners: train, push, commit (m1 trains longest and commits first; m2 enters the B14-like competition 4)"
steps=(0 240 80 20)
comps=(0 2 4 2)
for i in 1 2 3; do
  w=m$i
  sn9 -q train --data shards --model "$here/fixtures/demo/model.json" --out "run-$w" \
    --steps "${steps[$i]}" --batch-size 8 --lr 5e-3 --warmup-steps 10 --seed "$i" --competition "${comps[$i]}" >/dev/null
  hk=$(sn9 --json wallet show --wallet-name "$w" | sed 's/.*"hotkey":"\([^"]*\)".*/\1/')
  pushed=$(sn9 --json -q hub push "run-$w/model" "miner$i/tiny-llama" --hotkey "$hk" --competition "${comps[$i]}")
  commit=$(echo "$pushed" | sed 's/.*"commit":"\([^"]*\)".*/\1/')
  secure=$(echo "$pushed" | sed 's/.*"secure_hash":"\([^"]*\)".*/\1/')
  meta=$(sn9 chain metadata encode "miner$i/tiny-llama" --commit "$commit" --secure-hash "$secure" --competition "${comps[$i]}")
  block=$(sn9 -q chain commit "$meta" --wallet-name "$w")
  echo "$w: competition ${comps[$i]}, ${steps[$i]} steps, validation loss $(grep '"val"' "run-$w/metrics.jsonl" | tail -1 | sed 's/.*"val_loss":\([0-9.]*\).*/\1/'), committed at block $block"
  sn9 -q chain local advance 3 >/dev/null
done

say "TTS miners: two tiny E2TTS models (sn9 model init), pushed whole and committed for competition 6"
for i in 4 5; do
  w=m$i
  sn9 -q model init --model-config "$here/fixtures/demo/e2tts.json" --seed "$i" "tts-$w" >/dev/null
  hk=$(sn9 --json wallet show --wallet-name "$w" | sed 's/.*"hotkey":"\([^"]*\)".*/\1/')
  pushed=$(sn9 --json -q hub push "tts-$w" "miner$i/tiny-e2tts" --hotkey "$hk" --competition 6)
  commit=$(echo "$pushed" | sed 's/.*"commit":"\([^"]*\)".*/\1/')
  secure=$(echo "$pushed" | sed 's/.*"secure_hash":"\([^"]*\)".*/\1/')
  meta=$(sn9 chain metadata encode "miner$i/tiny-e2tts" --commit "$commit" --secure-hash "$secure" --competition 6)
  block=$(sn9 -q chain commit "$meta" --wallet-name "$w")
  echo "$w: $(sn9 --json model info "tts-$w" | sed 's/.*"parameters":\([0-9]*\).*/\1/') parameters, committed at block $block"
  sn9 -q chain local advance 3 >/dev/null
done
sn9 chain commitments

say "speech evaluation data: eight clips of the fixtures, made into batches as the validator's loader makes them"
sn9 -q data pack-speech "$here/fixtures/demo/speech.jsonl" --seed 9 --out speech >/dev/null
# The validator's speech tools: a tiny Vocos and a tiny Whisper with random weights (the
# reference's fixtures; the real ones are `sn9 hub pull charactr/vocos-mel-24khz` and
# `sn9 hub pull openai/whisper-large-v2`).
export SN9_VOCODER="$here/fixtures/ttsref/vocos_tiny/model" SN9_ASR="$here/fixtures/ttsref/whisper_tiny"

say "the evaluation delay passes (10 blocks)"
sn9 chain local advance 12
[ -n "${SN9_DEMO_SETUP_ONLY:-}" ] && exit 0
why() { # the reasons of the models scored inf in the last round
  python3 - "$work/vali-state/rounds" <<'PY' || true
import json, os, sys
d = sys.argv[1]; last = max(os.listdir(d), key=int)
for l in open(os.path.join(d, last, "results.jsonl")):
    r = json.loads(l)
    if r.get("error"):
        print(f"uid {r['uid']} scored inf: {r['error']}")
PY
}

say "validator round 1"
sn9 validate --once --state-dir vali-state --eval-data 2=eval,4=eval,6=speech --wallet-name vali --time-limit-s 300
why

say "20 blocks later (past the weights rate limit): validator round 2, the EMA carried forward"
sn9 chain local advance 20 >/dev/null
sn9 validate --once --state-dir vali-state --eval-data 2=eval,4=eval,6=speech --wallet-name vali --time-limit-s 300

say "weights on the local chain"
python3 - "$work/chain/chain.json" <<'PY' || true
import json, sys
s = json.load(open(sys.argv[1]))
for w in s["subnets"]["9"]["weights"]:
    print(f"block {w['block']}: uid {w['uid']} set uids {w['uids']} -> {w['weights']}")
PY
echo
echo "everything is in $work"
