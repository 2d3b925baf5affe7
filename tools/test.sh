#!/usr/bin/env bash
# Run the whole test suite: lint, then every test. Sets up .venv (and the services the
# tests need) by itself; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh
bash tools/nova_venv.sh  # real Nova and Placement for the `nova` tests, in a venv of their own
for svc in tools/services/*.sh; do
  [ -e "$svc" ] && bash "$svc"
done
.venv/bin/ruff check watcher_geyser tests bench
exec .venv/bin/python -m pytest "$@"
