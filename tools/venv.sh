#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with everything the
# demo, the tests and the benchmarks need. Re-runs are cheap: it reinstalls only when
# setup.cfg or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=tools/venv.sh source tools/find_python.sh
stamp=$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.geyser-stamp 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
echo "tools/venv.sh: installing watcher-geyser and its dependencies into .venv (first run takes a few minutes)" >&2
"$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip >&2
.venv/bin/python -m pip install --quiet -e ".[sim,watcher,test]" >&2
echo "$stamp" > .venv/.geyser-stamp
