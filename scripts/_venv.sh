# Shared by scripts/run and scripts/test: make .venv from the project's own files on first use
# (and again whenever pyproject.toml changes), so a fresh machine needs only Python 3.11+.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
STAMP="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-$1"
if [ ! -f "$STAMP" ]; then
  PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed" >&2; exit 2; }
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  if [ "$1" = dev ]; then "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]"; else "$VENV/bin/python" -m pip install -q -e "$ROOT"; fi
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
