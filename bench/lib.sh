# Shared set-up of the benchmark scripts (sourced): the reference's Python stack, Debian's CPU
# torch 1.13 + transformers 4.44.1 (the reference's pin) in bench/.venv.
venv=${SN9_BENCH_VENV:-bench/.venv}
torch_stack() {
  # Any venv with torch and transformers 4.44.1 will do (SN9_BENCH_VENV, e.g. bench/.venv-tts:
  # PyPI torch 2.6.0); the row records which torch ran.
  if "$venv/bin/python" -c "import torch, transformers" 2>/dev/null; then return; fi
  if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-torch python3-venv >/dev/null
  fi
  if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install -q "transformers==4.44.1"
  fi
}
