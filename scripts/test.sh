#!/usr/bin/env bash
# The test command: set up the environment, check style and Python 3.6 compatibility of the
# runtime code, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
bash scripts/lint.sh
.venv/bin/python -m pytest -q "$@"
