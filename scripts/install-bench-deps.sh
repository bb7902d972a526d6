#!/usr/bin/env bash
# Debian packages the benchmarks in bench/ use as their side-by-side peer: PyTorch (CPU) with OpenBLAS.
# Without libopenblas0-pthread, Debian's PyTorch runs on the reference BLAS and is ~25x slower, which
# would make every comparison meaningless. Needs root. Not needed for the tests or for using sbp.
set -euo pipefail
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-torch libopenblas0-pthread
