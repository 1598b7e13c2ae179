#!/usr/bin/env bash
# The test command: set up the environment, check style and Python 3.6 compatibility of the
# runtime code (vermin, then the runtime tests on Python 3.6 + numpy 1.19 and on aarch64 under qemu),
# then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
bash scripts/lint.sh
bash scripts/py36_check.sh
bash scripts/aarch64_check.sh
.venv/bin/python -m pytest -q "$@"
