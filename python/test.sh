#!/usr/bin/env bash
# Builds the recstore Python package into a virtual environment (maturin,
# debug profile, in the workspace's target/ directory so the library is not
# compiled twice) and runs its pytest suite. The README's test command and
# so .ci/run call this.
set -euo pipefail
cd "$(dirname "$0")"
venv="${RECSTORE_PYTHON_VENV:-../target/python-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "maturin>=1.7,<2" pytest -r ../tests/dataframes/requirements.txt
VIRTUAL_ENV="$(cd "$venv" && pwd)" "$venv/bin/maturin" develop --quiet
"$venv/bin/python" -m pytest -q tests "$@"
