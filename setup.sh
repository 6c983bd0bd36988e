#!/usr/bin/env bash
# Sets up a fresh machine: a virtual environment with nnguru, its test tools and PyTorch 2.13.0
# (pinned in requirements.txt), plus headless Chromium for the report's browser test.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: Chromium not found and not root; the report's browser test will be skipped." >&2
  fi
fi
echo "setup: done. Run the tests with: .venv/bin/python -m pytest"
