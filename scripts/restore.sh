#!/usr/bin/env bash
# Restore a backup made by backup.sh into DATABASE_URL and MEDIA_ROOT: ./scripts/restore.sh DIR
# Stop web and workers first; the database's tables are replaced by the backup's.
set -euo pipefail
in=${1:?usage: restore.sh DIR}
: "${DATABASE_URL:?set DATABASE_URL}" "${MEDIA_ROOT:?set MEDIA_ROOT}"
pg_restore --clean --if-exists --no-owner --single-transaction --dbname "$DATABASE_URL" "$in/db.dump"
mkdir -p "$MEDIA_ROOT"
tar -C "$MEDIA_ROOT" -xzf "$in/media.tar.gz"
echo "restored from $in"
