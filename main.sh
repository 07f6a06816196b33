#!/usr/bin/env bash
# The main job: set everything up, then run the instructor pipeline end to end
# on the embedded defaults (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
exec .venv/bin/python -m course.pipeline "$@"
