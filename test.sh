#!/usr/bin/env bash
# The tests: set everything up if needed, then run the whole suite.
# Extra arguments go to pytest (e.g. bash test.sh -k arith).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
bash scripts/setup-postgres.sh || echo "[setup] PostgreSQL server not available: its tests will be skipped"
exec .venv/bin/python -m pytest "$@"
