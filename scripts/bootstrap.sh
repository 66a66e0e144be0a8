#!/usr/bin/env bash
# Installs everything pgflex-gui needs on a fresh Debian/Ubuntu machine; safe to re-run.
#   system packages (apt; only as root or with passwordless sudo), Azurite (npm, into
#   ./node_modules), and a virtual environment in ./.venv with the app and its extras.
# Python packages come only from the lock (requirements/, see scripts/lock), hashes checked.
# Sourced by scripts/app and scripts/test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP_DIR="$ROOT/.venv/.pgflex-stamps"

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

APT_RUNTIME=(libglib2.0-0 libegl1 libgl1 libx11-6 libxkbcommon0 libfreetype6 libfontconfig1
  libdbus-1-3 fonts-dejavu-core libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1 libxkbcommon-x11-0
  postgresql postgresql-contrib)
APT_TEST=(xvfb xauth gnome-keyring dbus curl)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else return 99; fi
}

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    log "not a Debian/Ubuntu machine: install these yourself: ${missing[*]}"; return 0
  fi
  log "apt-get install ${missing[*]}"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq; then
    log "need root or passwordless sudo for: ${missing[*]}"; return 1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

npm_install() {
  if [ -x "$ROOT/node_modules/.bin/azurite-blob" ] && \
     [ "$ROOT/node_modules/.package-lock.json" -nt "$ROOT/package.json" ]; then return 0; fi
  log "npm install (Azurite, pinned in package.json) into ./node_modules"
  (cd "$ROOT" && npm install --no-audit --no-fund --silent)
}

venv_install() {  # venv_install runtime|dev : the locked set (requirements/<set>.txt), hashes checked
  local set="$1" lock="$ROOT/requirements/$1.txt" stamp="$STAMP_DIR/lock-$1"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ] && [ "$stamp" -nt "$ROOT/pyproject.toml" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "python3 -m venv .venv"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes \
    -r "$ROOT/requirements/uv.txt"
  log "installing the locked set requirements/$set.txt into .venv"
  # --compile-bytecode: every start would otherwise compile what it imports (0.15 s here)
  # uv's scratch (its build-lock files) inside the venv, not left behind in /tmp
  local uvtmp="$VENV/.uv-tmp"
  mkdir -p "$uvtmp"
  TMPDIR="$uvtmp" "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --require-hashes \
    --compile-bytecode -r "$lock"
  TMPDIR="$uvtmp" "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps -e "$ROOT"
  rm -rf "$uvtmp"
  mkdir -p "$STAMP_DIR" && touch "$stamp"
}

bootstrap() {  # bootstrap runtime|test
  apt_install "${APT_RUNTIME[@]}"
  # Node.js from another source (NodeSource, nvm) ships its own npm: ask apt only when missing.
  command -v node >/dev/null || apt_install nodejs
  command -v npm >/dev/null || apt_install npm
  [ "$1" = test ] && apt_install "${APT_TEST[@]}"
  npm_install
  if [ "$1" = test ]; then venv_install dev; else venv_install runtime; fi
}
