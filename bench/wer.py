"""The reference side of bench/wer.sh: the validator's compute_wer (pretraining 6.0.4,
pretrain/eval/method.py) on CPU with taoverse 2.0.2's E2TTS, vocos 0.1.0, transformers 4.44.1's
ASR pipeline and jiwer 3.1.0, on the same speech batches sn9 evaluates (read from sn9's speech
batch directory), timed in-process.

Usage: wer.py MODEL_DIR VOCOS_DIR ASR_DIR BATCHES_DIR SEED  → one JSON line on stdout."""
import json, re, string, sys, time

import numpy as np
import torch
import jiwer
from transformers import pipeline
from taoverse.model.tts.e2tts import E2TTS
from vocos import Vocos

model_dir, vocos_dir, asr_dir, batches_dir, seed = sys.argv[1:6]
seed = int(seed)
torch.set_grad_enabled(False)

m = json.load(open(f"{batches_dir}/manifest.json"))
task = m["tasks"][0]
audio = np.fromfile(f"{batches_dir}/{task['audio']}", dtype="<f4")
batches = [json.loads(l) for l in open(f"{batches_dir}/{task['texts']}", encoding="utf-8")]
for b in batches:
    b["ref_audio"] = audio[b["offset"]:b["offset"] + b["samples"]][None, :]


def clean_sentence(sentence):
    no_punct = sentence.translate(str.maketrans("", "", string.punctuation))
    return re.sub(r"\s+", " ", no_punct).strip().lower()


t0 = time.perf_counter()
model = E2TTS.from_pretrained(model_dir)
vocoder = Vocos.from_hparams(f"{vocos_dir}/config.yaml")
vocoder.load_state_dict(torch.load(f"{vocos_dir}/pytorch_model.bin", map_location="cpu"))
vocoder.eval()
transcriber = pipeline(task="automatic-speech-recognition", model=asr_dir, device="cpu")
load_s = time.perf_counter() - t0

t = time.perf_counter()
target_rms = 0.1
waves = []
with torch.inference_mode():
    for b in batches:
        ref_audio = torch.tensor(b["ref_audio"])
        mel = model.sample(ref_audio=ref_audio, text=[b["tokenized_text"]],
                           gen_duration=b["gen_audio_len"], seed=seed)
        mel = mel.to(torch.float32)[:, b["ref_audio_len"]:, :]
        wave = vocoder.decode(mel.permute(0, 2, 1))
        rms = torch.sqrt(torch.mean(torch.square(wave)))
        if rms < target_rms:
            wave = wave * rms / target_rms
        waves.append(wave.squeeze().cpu().numpy())
    transcripts = transcriber(waves)
scores = []
for b, tr in zip(batches, transcripts):
    gen = clean_sentence(tr["text"])
    ref = clean_sentence(b["query_text"])
    scores.append(1.0 if len(gen) == 0 else jiwer.wer(ref, gen))
score = sum(scores) / len(scores)
eval_s = time.perf_counter() - t
print(json.dumps({"score": score, "samples": len(batches), "load_s": load_s, "eval_s": eval_s,
                  "torch": torch.__version__, "threads": torch.get_num_threads(),
                  "transcripts": [x["text"] for x in transcripts]}))
