# Sourced by bench/tts.sh and bench/wer.sh: the reference stack's virtualenv ($venv from bench/lib.sh: torch 2.6.0,
# taoverse 2.0.2 without its dependencies, vocos 0.1.0, ...), a release build ($sn9), and in
# $work the models both sides run: an E2TTS written by `sn9 model init` (dim 256, depth 8,
# 8 heads; euler, 16 steps, CFG) in $work/model and a Vocos of the real
# charactr/vocos-mel-24khz shape (dim 512, 8 layers; random weights saved by vocos itself as
# config.yaml + pytorch_model.bin) in $work/vocos.
source bench/lib.sh
torch_stack
if ! "$venv/bin/python" -c "import torchaudio, vocos, x_transformers, torchdiffeq, taoverse" 2>/dev/null; then
  "$venv/bin/python" -m pip install -q torch==2.6.0 torchaudio==2.6.0 vocos==0.1.0 x_transformers==2.1.5 \
    librosa==0.10.2.post1 torchdiffeq==0.2.5 jieba==0.42.1 pypinyin==0.53.0 safetensors
  "$venv/bin/python" -m pip install -q --no-deps taoverse==2.0.2
fi
cargo build --release --quiet
sn9=$(pwd)/target/release/sn9
cat > "$work/e2tts.json" <<'JSON'
{"architectures": ["E2TTS"],
 "mel_spectrogram": {"target_sample_rate": 24000, "n_mel_channels": 100, "hop_length": 256, "win_length": 1024, "n_fft": 1024, "mel_spec_type": "vocos"},
 "backbone": {"dim": 256, "depth": 8, "heads": 8, "dim_head": 32, "ff_mult": 2},
 "odeint": {"method": "euler"},
 "sampling": {"nfe_step": 16, "cfg_strength": 2.0, "sway_sampling_coef": -1.0}}
JSON
$sn9 -q model init --model-config "$work/e2tts.json" --seed 1 "$work/model" >/dev/null
"$venv/bin/python" - "$work" <<'PY'
import sys, os, torch, yaml
from vocos import Vocos
work = sys.argv[1]
cfg = {"feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
       "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100, "padding": "center"}},
       "backbone": {"class_path": "vocos.models.VocosBackbone",
       "init_args": {"input_channels": 100, "dim": 512, "intermediate_dim": 1536, "num_layers": 8}},
       "head": {"class_path": "vocos.heads.ISTFTHead", "init_args": {"dim": 512, "n_fft": 1024, "hop_length": 256, "padding": "center"}}}
os.makedirs(f"{work}/vocos")
yaml.safe_dump(cfg, open(f"{work}/vocos/config.yaml", "w"))
torch.manual_seed(0)
v = Vocos.from_hparams(f"{work}/vocos/config.yaml")
torch.save(v.state_dict(), f"{work}/vocos/pytorch_model.bin")
PY
