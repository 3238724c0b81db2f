#!/usr/bin/env bash
# Install everything the tests need from this repository's own files, then run them.
#   bash scripts/test.sh [pytest arguments]
# Creates .venv (Python >= 3.10 with venv and pip) and installs two Debian packages when
# missing: chromium, for the board's browser test (Playwright drives it; no browser
# download), and graphviz, so that drawing is tested through the system `dot` as well as
# through the Graphviz bundled in the pygraphviz wheel (the tests hide `dot` for that).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
if [ -n "$missing" ]; then
    echo "installing Debian packages:$missing"
    sudo_=""
    [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq $missing >/dev/null
fi

# The script's exit code is pytest's: 5 (no test collected) fails CI like any failure.
exec .venv/bin/python -m pytest "$@"
