#!/usr/bin/env bash
# Back up the database and the image files together: ./scripts/backup.sh DIR
# Needs DATABASE_URL (Postgres) and MEDIA_ROOT; writes DIR/db.dump and DIR/media.tar.gz.
set -euo pipefail
out=${1:?usage: backup.sh DIR}
: "${DATABASE_URL:?set DATABASE_URL}" "${MEDIA_ROOT:?set MEDIA_ROOT}"
mkdir -p "$out"
pg_dump --format=custom --no-owner --dbname "$DATABASE_URL" --file "$out/db.dump"
tar -C "$MEDIA_ROOT" -czf "$out/media.tar.gz" .
echo "backup written to $out"
