#!/usr/bin/env bash
# Back up the database and the image files together: ./scripts/backup.sh DIR
# Writes DIR/db.dump and DIR/media.tar.gz from the server the settings name (DATABASE_URL, or
# the embedded server when it is unset) and MEDIA_ROOT.
set -euo pipefail
dir=$(realpath -m "${1:?usage: backup.sh DIR}")
cd "$(dirname "$0")/.."
python=python3; [ -x .venv/bin/python ] && python=.venv/bin/python
exec "$python" manage.py backup "$dir"
