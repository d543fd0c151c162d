# Shared set-up of the benchmark scripts (sourced). The peers are what `pip install` gives users
# today (issue 19): PyPI torch 2.6.0 (the reference pins torchaudio 2.6.0; the Linux wheel pulls
# its CUDA runtime wheels, several GB, once; it runs on the CPU here) + transformers 4.44.1 (the
# reference's pin) in bench/.venv-torch, which bench/tts_models.sh extends with the TTS stack.
# Rows measured against Debian's python3-torch 1.13 stay in bench/results/ as history;
# SN9_BENCH_VENV points at any other venv with torch and transformers (the row records which
# torch ran).
venv=${SN9_BENCH_VENV:-bench/.venv-torch}
torch_stack() {
  if "$venv/bin/python" -c "import torch, transformers" 2>/dev/null; then return; fi
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q torch==2.6.0 transformers==4.44.1 numpy safetensors
}
# The pack peers users run today (issue 19): tiktoken and current HF tokenizers (which
# transformers 4.44.1's pin excludes, hence a venv of their own), in bench/.venv-tok.
tok_venv=bench/.venv-tok
tok_stack() {
  if "$tok_venv/bin/python" -c "import tiktoken, tokenizers, numpy" 2>/dev/null; then return; fi
  /usr/bin/python3 -m venv "$tok_venv"
  "$tok_venv/bin/pip" install -q tiktoken==0.14.0 tokenizers==0.23.3 numpy
}
