#!/usr/bin/env bash
# The long soak: 50,000 mixed signed requests (or $1) through two `hub serve`
# processes on PostgreSQL, checked as in CI's shorter run (tests/faults/test_soak.py).
# 6-11 minutes at 75-150 requests/s on a 2-core host. Prints the request rate.
set -euo pipefail
cd "$(dirname "$0")/.."
HUB_SOAK_REQUESTS="${1:-50000}" exec .venv/bin/python -m pytest -q -s -p no:cacheprovider \
    tests/faults/test_soak.py
