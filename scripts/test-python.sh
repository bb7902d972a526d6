#!/usr/bin/env bash
# Interoperability checks against the Python ML stack (transformers, torch, datasets, pyarrow, numpy,
# safetensors, gguf): installs the pinned versions into .venv when missing, builds, and runs
# test/pystack/ (which writes a toy run and calls test/python/check_interop.py on it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then bash scripts/install-python-deps.sh; fi
npx tsc -p tsconfig.json
node scripts/run-tests.mjs pystack
