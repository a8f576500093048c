#!/usr/bin/env bash
# Restore a backup made by backup.sh: ./scripts/restore.sh DIR
# Stop web and workers first; the database's tables are replaced by the backup's.
set -euo pipefail
dir=$(realpath -m "${1:?usage: restore.sh DIR}")
cd "$(dirname "$0")/.."
python=python3; [ -x .venv/bin/python ] && python=.venv/bin/python
exec "$python" manage.py restore "$dir"
