#!/usr/bin/env bash
# Run the whole test suite: lint, then every test. Sets up .venv (and the services the
# tests need) by itself; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh
for svc in tools/services/*.sh; do
  [ -e "$svc" ] && bash "$svc"
done
.venv/bin/ruff check watcher_geyser tests bench
exec .venv/bin/python -m pytest "$@"
