# Shared by scripts/run and scripts/test: make .venv from the project's own files on first use
# (and again whenever pyproject.toml or the lock file changes), so a fresh machine needs only
# Python 3.11+. Versions come from the lock files (scripts/lock): a fresh machine runs and tests
# what the suite last passed with, not whatever was released since.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
if [ "$1" = dev ]; then LOCK="$ROOT/requirements-dev.lock"; else LOCK="$ROOT/requirements.lock"; fi
STAMP="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "$LOCK" | sha256sum | cut -c1-16)-$1"
if [ ! -f "$STAMP" ]; then
  PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed" >&2; exit 2; }
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  if [ "$1" = dev ]; then TARGET="$ROOT[dev]"; else TARGET="$ROOT"; fi
  "$VENV/bin/python" -m pip install -q --constraint "$LOCK" -e "$TARGET"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
