#!/usr/bin/env bash
# Create the peer environment used by benchmarks/compare.py:
#   mmpose 1.3.2 (HRFormer backbone) + MMSegmentation 1.2.2 (CascadeEncoderDecoder,
#   FCNHead, OCRHead) on torch 2.13.0 CPU, in its own venv (benchmarks/.venv-peer).
# Everything comes from the package registry; nothing of the peer lands in our repo.
#
# Usage: bash benchmarks/setup_peer_env.sh [PYTHON]   (PYTHON defaults to python3)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="${PEER_VENV:-$HERE/.venv-peer}"
PYTHON="${1:-python3}"

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet)

"${PIP[@]}" --upgrade pip
# torch first, pinned to the CPU build (a plain `torch` would pull CUDA wheels).
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -r "$HERE/peer_requirements.txt"
# mmpose and MMSegmentation without their dependency lists: their full lists
# pull packages that do not build here or are not on the HRFormer/OCR import
# path (chumpy, torchvision, json_tricks, ...); mmpose.models imports mmdet
# (mmdet.utils). What the import path needs is in
# peer_requirements.txt.
"${PIP[@]}" --no-deps mmsegmentation==1.2.2 mmpose==1.3.2 mmdet==3.3.0

(cd "$HERE/.." && "$VENV/bin/python" -m benchmarks.peer_model --check)
echo "peer environment ready: $VENV"
