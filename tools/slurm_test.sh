#!/usr/bin/env bash
# Testing on Slurm: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CKPT [test.py options]
# GPUS (total, default 4), GPUS_PER_NODE (default 4), CPUS_PER_TASK (default 5)
# and SRUN_ARGS may be set in the environment.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="${TOOLS_DIR}/..:${PYTHONPATH}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "${TOOLS_DIR}/test.py" "${CONFIG}" "${CHECKPOINT}" --launcher slurm "$@"
