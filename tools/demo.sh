#!/usr/bin/env bash
# The main job on a bundled default: replay the bundled PlanetLab sample (100 VMs, one day)
# under watcher-geyser and the published baselines (CloudSim's accounting, so the figures
# compare with the literature), following a clear-sky solar supply, and print the
# side-by-side report (plots and JSON land in results/demo/).
# Sets up .venv by itself; extra arguments go to `geyser simulate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh
exec .venv/bin/geyser simulate --fidelity cloudsim --signal "solar:lat=52.1,lon=5.1,peak_w=12000" \
    --out results/demo "$@"
