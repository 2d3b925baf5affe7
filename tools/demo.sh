#!/usr/bin/env bash
# The main job on a bundled default. Sets up .venv by itself; extra arguments go to geyser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh
exec .venv/bin/geyser plan --bundled "$@"
