#!/usr/bin/env bash
# Distributed testing with torchrun: tools/dist_test.sh CONFIG CKPT GPUS [test.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -e
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="${TOOLS_DIR}/..:${PYTHONPATH}" \
exec torchrun \
    --nnodes="${NNODES}" \
    --node_rank="${NODE_RANK}" \
    --master_addr="${MASTER_ADDR}" \
    --master_port="${PORT}" \
    --nproc_per_node="${GPUS}" \
    "${TOOLS_DIR}/test.py" "${CONFIG}" "${CHECKPOINT}" --launcher pytorch "$@"
