#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG GPUS [train.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node.
set -e
CONFIG=$1
GPUS=$2
shift 2
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
    "${TOOLS_DIR}/train.py" "${CONFIG}" --launcher pytorch "$@"
