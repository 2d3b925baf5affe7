# Sourced by tools/venv.sh and tools/nova_venv.sh: sets PY to the Python that builds a venv
# ($PYTHON if set, else python3.11, else python3) or stops the caller with a message.
# The caller sets TOOL (its own name, for the message).
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY=$cand; break; fi
  done
fi
[ -n "$PY" ] || { echo "$TOOL: no python3 found; install Python 3.11" >&2; exit 1; }
