#!/usr/bin/env bash
# Create (or refresh) .venv-nova: real Nova and Placement for the `nova` end-to-end tests.
# Nova and Watcher cannot share a Python process (their oslo.config options clash), and
# Nova's pins must never disturb .venv, so Nova runs from its own venv in a helper process
# (tests/nova/server.py). Re-runs are cheap: a stamp records what was installed.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=tools/nova_venv.sh source tools/find_python.sh
# What .venv-nova holds, written once: the stamp is this file's own hash.
PACKAGES=(
  "nova==34.0.0"
  "openstack-placement==16.0.0"
  "SQLAlchemy>=2.0,<2.1"   # 2.1 breaks Nova's API under its warnings fixture
  "fixtures" "oslotest" "testtools" "wsgi-intercept" "requests-mock" "testscenarios" "testresources"
)
stamp=$(printf '%s\n' "${PACKAGES[@]}" | sha256sum | cut -c1-16)
if [ -x .venv-nova/bin/python ] && [ "$(cat .venv-nova/.geyser-stamp 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
echo "tools/nova_venv.sh: installing Nova and Placement into .venv-nova (first run takes a few minutes)" >&2
"$PY" -m venv .venv-nova
.venv-nova/bin/python -m pip install --quiet --upgrade pip >&2
.venv-nova/bin/python -m pip install --quiet "${PACKAGES[@]}" >&2
echo "$stamp" > .venv-nova/.geyser-stamp
