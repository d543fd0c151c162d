"""The reference side of bench/tts.sh: taoverse 2.0.2's E2TTS (installed without its
dependencies) + vocos 0.1.0 synthesising texts exactly as the validator's compute_wer does
(sample, drop N//256 frames, vocode, RMS rule), timed in-process on CPU.

Usage: tts.py MODEL_DIR VOCOS_DIR REF_WAV TEXTS_FILE SEED  → one JSON line on stdout."""
import json, sys, time, wave

import numpy as np
import torch
from taoverse.model.tts.e2tts import E2TTS
from taoverse.model.tts.utils.e2tts import convert_char_to_pinyin
from vocos import Vocos

model_dir, vocos_dir, ref_wav, texts_file, seed = sys.argv[1:6]
seed = int(seed)
torch.set_grad_enabled(False)

with wave.open(ref_wav) as w:
    assert w.getframerate() == 24000 and w.getsampwidth() == 2
    ref = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
ref_text, *queries = [l.rstrip("\n") for l in open(texts_file, encoding="utf-8") if l.strip()]

t0 = time.perf_counter()
model = E2TTS.from_pretrained(model_dir)
vocoder = Vocos.from_hparams(f"{vocos_dir}/config.yaml")
vocoder.load_state_dict(torch.load(f"{vocos_dir}/pytorch_model.bin", map_location="cpu"))
vocoder.eval()
load_s = time.perf_counter() - t0

ref_audio = torch.tensor(ref)[None, :]
rms = torch.sqrt(torch.mean(torch.square(ref_audio)))
if rms < 0.1:
    ref_audio = ref_audio * (0.1 / rms)
ref_len = ref_audio.shape[-1] // 256
frames = 0
synth_s = 0.0
for q in queries:
    ql = len(q.encode("utf-8"))
    speed = 1 if ql >= 10 else 0.3
    gen = ref_len + int((ref_len / len(ref_text.encode("utf-8"))) * ql / speed)
    text = convert_char_to_pinyin([ref_text + " " + q])
    t = time.perf_counter()
    with torch.inference_mode():
        mel = model.sample(ref_audio=ref_audio, text=text, gen_duration=gen, seed=seed)
        mel = mel.to(torch.float32)[:, ref_len:, :]
        wav_out = vocoder.decode(mel.permute(0, 2, 1))
        r = torch.sqrt(torch.mean(torch.square(wav_out)))
        target = model.config["sampling"].get("target_rms", 0.1)
        if r < target:
            wav_out = wav_out * r / target
        wav_out.squeeze().cpu().numpy()
    synth_s += time.perf_counter() - t
    frames += mel.shape[1] + ref_len
print(json.dumps({"frames": frames, "synth_s": synth_s, "load_s": load_s, "texts": len(queries),
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
