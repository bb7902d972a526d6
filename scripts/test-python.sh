#!/usr/bin/env bash
# Interoperability and torch-engine checks against the Python ML stack (transformers, torch, datasets,
# pyarrow, numpy, safetensors, gguf) and llama.cpp (node-llama-cpp): installs the pinned versions when
# missing (.venv from python/requirements.txt; scripts/llama-cpp-check/ from its lock file), builds, and
# runs test/pystack/ (which writes toy runs and calls test/python/*.py and the torch trainer on them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-python-deps.sh
if [ ! -d scripts/llama-cpp-check/node_modules/node-llama-cpp ]; then
  # --ignore-scripts: the prebuilt CPU binary comes inside the npm package; its postinstall would only look for others.
  npm ci --omit=optional --ignore-scripts --no-audit --no-fund --prefix scripts/llama-cpp-check
fi
npm run build
node scripts/run-tests.mjs pystack
