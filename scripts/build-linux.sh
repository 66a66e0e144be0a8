#!/usr/bin/env bash
# Build the Linux onedir bundle into build/dist/pgflex-gui and smoke-test it:
#   the frozen --self-check (Azure SDK imports, keyring backend) and the app's --smoke
#   under QT_QPA_PLATFORM=offscreen. Prints the bundle size and the build time.
# Usage: scripts/build-linux.sh [--no-smoke]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
DIST="$ROOT/build/dist"
WORK="$ROOT/build/work"
SMOKE=1
[ "${1:-}" = "--no-smoke" ] && SMOKE=0

log() { printf '\033[1m[build-linux]\033[0m %s\n' "$*" >&2; }

if "$PY" -c 'import gi' 2>/dev/null; then
  log "warning: PyGObject (gi) is installed in $VENV; it is excluded, but build on a clean venv"
fi

cd "$ROOT"
start=$(date +%s)
log "pyinstaller packaging/pgflex-gui.spec -> $DIST"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" packaging/pgflex-gui.spec
elapsed=$(( $(date +%s) - start ))

APP="$DIST/pgflex-gui/pgflex-gui"
size=$(du -sh "$DIST/pgflex-gui" | cut -f1)
log "bundle: $DIST/pgflex-gui ($size), built in ${elapsed}s"

[ "$SMOKE" = 1 ] || exit 0

log "frozen --self-check"
"$APP" --self-check

if "$PY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("pgflex_gui.__main__") is None)'
then
  log "frozen --smoke (QT_QPA_PLATFORM=offscreen)"
  QT_QPA_PLATFORM=offscreen "$APP" --smoke
  log "smoke ok"
else
  log "pgflex_gui.__main__ does not exist yet: --smoke skipped"
  exit 3
fi
printf 'bundle_size=%s build_seconds=%s\n' "$size" "$elapsed"
