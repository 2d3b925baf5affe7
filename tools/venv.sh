#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with everything the
# demo, the tests and the benchmarks need. Re-runs are cheap: it reinstalls only when
# setup.cfg or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY=$cand; break; fi
  done
fi
[ -n "$PY" ] || { echo "tools/venv.sh: no python3 found; install Python 3.11" >&2; exit 1; }
stamp=$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.geyser-stamp 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
echo "tools/venv.sh: installing watcher-geyser and its dependencies into .venv (first run takes a few minutes)" >&2
"$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip >&2
.venv/bin/python -m pip install --quiet -e ".[sim,watcher,test]" >&2
echo "$stamp" > .venv/.geyser-stamp
