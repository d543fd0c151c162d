#!/usr/bin/env bash
# Starts the training job on this node (written by `sn9 train --engine torchtitan`).
#
#   one node:  ./launch.sh
#   N nodes:   HEAD=<first node's address> RUN_ID=<any id> ./launch.sh   (on every node)
#   SLURM:     sbatch launch.slurm
#
# Ranks are assigned at the c10d rendezvous on HEAD:PORT. Restarting the same command resumes
# from the latest checkpoint in outputs/checkpoint. Extra arguments go to torchtitan.train.
set -euo pipefail
JOB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
source "$JOB/job.env"
if [ "$NNODES" -gt 1 ] && [ -z "${HEAD:-}" ]; then
  echo "error: this job runs on $NNODES nodes; set HEAD to the first node's address (and the same RUN_ID) on every node, or use launch.slurm" >&2
  exit 1
fi
if [ "$NNODES" -gt 1 ]; then
  rdzv=(--rdzv_backend c10d --rdzv_endpoint "$HEAD:${PORT:-29500}" --rdzv_id "${RUN_ID:-sn9}")
else
  rdzv=(--rdzv_backend c10d --rdzv_endpoint "localhost:0")
fi
export PYTHONPATH="$JOB${PYTHONPATH:+:$PYTHONPATH}"
export PYTORCH_ALLOC_CONF="${PYTORCH_ALLOC_CONF:-expandable_segments:True}"
exec "${PYTHON:-python3}" -m torch.distributed.run --nnodes "$NNODES" \
  --nproc_per_node "$GPUS_PER_NODE" "${rdzv[@]}" --local-ranks-filter "${LOG_RANK:-0}" \
  --role rank --tee 3 -m torchtitan.train --module sn9_titan --config train "$@"
