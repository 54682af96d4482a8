#!/usr/bin/env bash
# Back up gpugrant's PostgreSQL database to one file in pg_dump's custom format (compressed; restored with
# restore.sh, or a single table with pg_restore -t).
#   DATABASE_URL=postgres://user@host:5432/gpugrant deploy/ops/backup.sh /backups/gpugrant-$(date +%F).dump
# pg_dump reads one consistent snapshot, so it can run while the portal, workers and agents are live.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "${DATABASE_URL:-}" ]; then
  echo "usage: DATABASE_URL=postgres://… $0 FILE" >&2
  exit 2
fi
target=$1
partial="$target.partial"
# Written aside and renamed at the end, so a backup that failed half-way never looks like a good one.
pg_dump --format=custom --no-owner --no-privileges --dbname="$DATABASE_URL" --file="$partial"
pg_restore --list "$partial" >/dev/null  # the archive reads back
mv "$partial" "$target"
echo "backup: $target ($(du -h "$target" | cut -f1))"
