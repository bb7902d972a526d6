#!/usr/bin/env bash
# Debian packages the test suite reads (real corpora for the built-in sources, groff to render man
# pages, chromium to open the HTML report headless). Idempotent; needs root. Nothing here is needed to *use* sbp on your own JSONL or text files.
set -euo pipefail
pkgs=(dict-gcide dictzip manpages-dev groff-base linux-doc-6.1 python3.11-doc chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
