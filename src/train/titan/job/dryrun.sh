#!/usr/bin/env bash
# One step of the whole layout (every rank of every node) in one process on one GPU, with
# torchtitan's fake communication backend: checks the config, the device mesh, the sharding and
# the per-rank memory before a cluster is booked. Writes to outputs-dryrun, never to outputs.
set -euo pipefail
JOB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
source "$JOB/job.env"
export PYTHONPATH="$JOB${PYTHONPATH:+:$PYTHONPATH}"
export SN9_TITAN_DRYRUN=1
NGPU=$((NNODES * GPUS_PER_NODE)) LOCAL_RANK=0 exec "${PYTHON:-python3}" -m torchtitan.train \
  --module sn9_titan --config train --comm.mode=fake_backend --training.steps 1 "$@"
