#!/usr/bin/env bash
# Install everything the tests need from this repository's own files, then run them.
#   bash scripts/test.sh [pytest arguments]
# Creates .venv (Python >= 3.10 with venv and pip is all it assumes) and, for the board's
# browser test, Debian's chromium (Playwright drives it; no browser download).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser test..."
    sudo_=""
    [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium >/dev/null
fi

# pytest exits 5 when it collects no test: with `set -e` that fails the run too.
exec .venv/bin/python -m pytest "$@"
