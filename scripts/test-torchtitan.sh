#!/usr/bin/env bash
# torchtitan 0.3.0 on CPU against the job directories sn9 writes (tests/torchtitan/check.py):
# parameter counts on the meta device, transformers' logits through torchtitan's Llama, the
# HF -> DCP -> HF round trip, the dataloader. Installs the job's pinned environment once into
# SN9_TITAN_VENV (default ~/.cache/sn9-titan/venv, about 6 GB; reinstalled when the pins change).
# Without PyPI it skips with a message, except under CI=true or SN9_REQUIRE_TORCHTITAN=1.
set -euo pipefail
cd "$(dirname "$0")/.."
sn9="${1:?usage: test-torchtitan.sh SN9_BINARY}"
req=src/train/titan/job/requirements.txt
venv="${SN9_TITAN_VENV:-${HOME:-/root}/.cache/sn9-titan/venv}"
stamp="$venv/.sn9-requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "test-torchtitan: installing the job's pinned environment into $venv" >&2
  rm -rf "$venv"
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check -r "$req"; }; then
    rm -rf "$venv"
    if [ "${CI:-}" = true ] || [ "${SN9_REQUIRE_TORCHTITAN:-}" = 1 ]; then
      echo "test-torchtitan: cannot install $req" >&2
      exit 1
    fi
    echo "test-torchtitan: skipped (no python3 venv or PyPI here to install $req)" >&2
    exit 0
  fi
  echo "$want" > "$stamp"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHONWARNINGS=ignore "$venv/bin/python" tests/torchtitan/check.py "$sn9" "$work"
