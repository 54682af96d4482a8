#!/usr/bin/env bash
# Restore a backup made by backup.sh into an EMPTY database (create it first: createdb …), in one
# transaction: it either restores everything or leaves the database as it was.
#   DATABASE_URL=postgres://user@host:5432/gpugrant_restored deploy/ops/restore.sh /backups/gpugrant-2026-11-28.dump
# Then run `manage.py migrate` with the release you deploy (the backup carries its migration state).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "${DATABASE_URL:-}" ]; then
  echo "usage: DATABASE_URL=postgres://… $0 FILE" >&2
  exit 2
fi
source=$1
pg_restore --list "$source" >/dev/null
tables=$(psql "$DATABASE_URL" -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "restore: the target database already has $tables tables; restore into an empty one" >&2
  exit 1
fi
pg_restore --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$DATABASE_URL" "$source"
echo "restore: $source restored"
