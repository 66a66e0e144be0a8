#!/usr/bin/env bash
# Build pgflex-gui.app (PyInstaller) and wrap it in a .dmg with hdiutil.
# Signing and notarization run only when their secrets are in the environment:
#   MACOS_SIGN_IDENTITY           "Developer ID Application: Name (TEAMID)" (in the keychain)
#   MACOS_NOTARY_APPLE_ID, MACOS_NOTARY_TEAM_ID, MACOS_NOTARY_PASSWORD   (app-specific password)
# Usage: packaging/macos/build-dmg.sh [--skip-build]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DIST="$ROOT/build/dist"
WORK="$ROOT/build/work"
OUT="$ROOT/build/installer"
log() { printf '[build-dmg] %s\n' "$*" >&2; }

cd "$ROOT"
VERSION="$("$PY" -c 'import importlib.metadata as m; print(m.version("pgflex-gui"))')"
if [ "${1:-}" != "--skip-build" ]; then
  log "pyinstaller -> $DIST/pgflex-gui.app"
  "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" packaging/pgflex-gui.spec
fi
APP="$DIST/pgflex-gui.app"
[ -d "$APP" ] || { log "missing $APP"; exit 1; }

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  log "codesign with $MACOS_SIGN_IDENTITY (hardened runtime)"
  codesign --force --deep --options runtime --timestamp \
    --sign "$MACOS_SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
else
  log "MACOS_SIGN_IDENTITY not set: the app is NOT signed (Gatekeeper will warn)"
fi

mkdir -p "$OUT"
DMG="$OUT/pgflex-gui-$VERSION.dmg"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
log "hdiutil create $DMG"
hdiutil create -volname "pgflex-gui $VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
fi

if [ -n "${MACOS_SIGN_IDENTITY:-}" ] && [ -n "${MACOS_NOTARY_APPLE_ID:-}" ] \
   && [ -n "${MACOS_NOTARY_TEAM_ID:-}" ] && [ -n "${MACOS_NOTARY_PASSWORD:-}" ]; then
  log "notarytool submit (waits for Apple)"
  xcrun notarytool submit "$DMG" --apple-id "$MACOS_NOTARY_APPLE_ID" \
    --team-id "$MACOS_NOTARY_TEAM_ID" --password "$MACOS_NOTARY_PASSWORD" --wait
  xcrun stapler staple "$DMG"
else
  log "notarization secrets not set: notarization skipped"
fi
log "done: $DMG ($(du -h "$DMG" | cut -f1))"
