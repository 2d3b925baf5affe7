#!/usr/bin/env bash
# Make Debian's `prometheus` binary available for the Prometheus signal-source tests.
# The tests start their own server (temporary config and storage, loopback port) and stop
# it afterwards; this script only installs the package and never starts the system service.
# A failed install is not fatal: the tests then skip with the reason printed here.
set -uo pipefail
if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tools/services/prometheus.sh: 'prometheus' is not installed and this is not root;" \
       "install it with: sudo apt-get install -y --no-install-recommends prometheus" \
       "(the Prometheus source tests will be skipped)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "tools/services/prometheus.sh: no apt-get here; install a 'prometheus' binary on PATH" \
       "(the Prometheus source tests will be skipped)" >&2
  exit 0
fi
echo "tools/services/prometheus.sh: installing Debian's prometheus package (once)" >&2
export DEBIAN_FRONTEND=noninteractive
# Keep the package from starting its system service: the tests run their own server.
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy_rc" && chmod +x "$policy_rc" && created_policy=1
fi
status=0
apt-get update -qq >&2 || status=$?
if [ "$status" -eq 0 ]; then
  apt-get install -y -qq --no-install-recommends prometheus >&2 || status=$?
fi
[ "$created_policy" -eq 1 ] && rm -f "$policy_rc"
if [ "$status" -ne 0 ] || ! command -v prometheus >/dev/null 2>&1; then
  echo "tools/services/prometheus.sh: could not install prometheus (apt-get exit $status);" \
       "the Prometheus source tests will be skipped" >&2
fi
exit 0
