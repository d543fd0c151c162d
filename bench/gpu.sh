#!/usr/bin/env bash
# The prepared GPU run (issue 18), for a machine with an NVIDIA GPU lent for a few minutes:
# correctness first, then speed, within ~8 minutes on one H100/H200.
#   SN9_BIN=path/to/sn9-cuda bash bench/gpu.sh [PEAK_TFLOPS=989 (H100/H200 dense bf16)]
#   (or `make bench-gpu SN9_BIN=...`)
# SN9_BIN is a `cuda` build made elsewhere (no Rust toolchain needed here):
#   CUDARC_CUDA_VERSION=12080 cargo build --release --features cuda   # ~34 MB, target/release/sn9
# Steps, each with a time limit so one stuck step cannot eat the others' time:
#   1. the machine: GPU, driver, CUDA version, the libraries burn-cuda 0.21 loads at run time
#      (libcuda from the driver; libnvrtc.so[.12] for its kernels: from the system, or from the
#      nvidia-cuda-nvrtc wheel next to a pip torch, which this script puts on LD_LIBRARY_PATH);
#   2. `sn9 device --device cuda:0`, then every fixtures/hfref case on cuda:0 in f32 and bf16
#      against transformers' numbers (bench/hfref_check.py);
#   3. evaluation tokens/s and MFU at the 3.3B shape, seq 4096, bf16: sn9 vs transformers
#      (bench/eval_gpu.sh), with the peak GPU memory of each next to `sn9 model info --memory`;
#   4. training tokens/s and MFU at 124M: sn9 train vs a PyTorch loop (bench/train_gpu.sh).
# Everything printed is also written to $OUT/gpu.log (or ./gpu.log) with the date; copy the rows
# into bench/results/eval-gpu.md and train-gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."
peak=${1:-989}
sn9=$(readlink -f "${SN9_BIN:-target/release/sn9}")
log=${OUT:-.}/gpu.log
exec > >(tee -a "$log") 2>&1
step() { echo; echo "== $* ($(date -u +%H:%M:%S))"; }
status=0

step "1. machine"
date -u +%Y-%m-%dT%H:%MZ
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || { echo "no nvidia-smi: not a GPU machine"; exit 1; }
nvidia-smi | grep -o "CUDA Version: [0-9.]*" || true
ldconfig -p | grep -E "libcuda\.so|libnvrtc|libcudart" || echo "(none of libcuda/libnvrtc/libcudart in ldconfig)"
if ! ldconfig -p | grep -q "libnvrtc\.so"; then
  for d in $(python3 -c 'import site, glob; print(" ".join(d for p in site.getsitepackages() for d in glob.glob(p + "/nvidia/*/lib")))' 2>/dev/null); do
    LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  export LD_LIBRARY_PATH
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-} (pip's nvidia wheels)"
  ls ${LD_LIBRARY_PATH//:/ } 2>/dev/null | grep -E "^libnvrtc" | head -3
fi
python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>/dev/null \
  || echo "no torch + transformers in python3: the PyTorch sides are skipped"
[ -x "$sn9" ] || { echo "SN9_BIN=$sn9 is not an executable cuda build of sn9"; exit 1; }
"$sn9" --version

step "2. correctness on cuda:0"
timeout 60 "$sn9" device --device cuda:0 || { echo "cuda:0 does not work: stopping (see the libraries above)"; exit 1; }
CUBECL_AUTOTUNE_LEVEL=minimal timeout 180 python3 bench/hfref_check.py "$sn9" cuda:0 || status=1

step "3. evaluation, 3.3B shape, seq 4096, bf16"
SN9_BIN=$sn9 timeout 300 bash bench/eval_gpu.sh 4096 5 "$peak" || status=1

step "4. training, 124M"
SN9_BIN=$sn9 timeout 200 bash bench/train_gpu.sh 20 "$peak" cuda:0 124m || status=1

step "done (status $status)"
exit $status
