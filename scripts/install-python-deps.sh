#!/usr/bin/env bash
# Creates .venv/ (ignored by git) with the pinned Python stack of python/requirements.txt: PyTorch (CPU),
# transformers, accelerate, datasets, pyarrow, gguf. Needed for train.engine: torch and for the
# interoperability checks (test/python/); the rest of sbp needs no Python packages. Idempotent.
# Usage: bash scripts/install-python-deps.sh [venv-folder]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
req=python/requirements.txt
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv is up to date with $req"
  exit 0
fi
# --retries 1: where only local package mirrors are reachable, a failed lookup elsewhere should not stall the install.
"$venv/bin/pip" install --retries 1 --disable-pip-version-check -q -r "$req"
echo "$want" > "$stamp"
echo "installed $req into $venv"
