#!/bin/sh
# Creates Temporal's two databases on PostgreSQL and brings their schemas to the version this
# admin-tools image ships. Safe to run again: an existing database is kept, setup-schema only adds
# the version tables, update-schema applies only the versions not applied yet (the upgrade path).
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:5432"
tries=0
until nc -z -w 5 "$POSTGRES_SEEDS" 5432; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "PostgreSQL did not answer" >&2; exit 1; }
  sleep 2
done

sql() {
  # SQL_PASSWORD is read from the environment by temporal-sql-tool: it never shows in `ps`.
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p 5432 -u "$POSTGRES_USER" "$@"
}

sql --db temporal create
sql --db temporal setup-schema -v 0.0
sql --db temporal update-schema -d "$SCHEMA_DIR/temporal/versioned"

sql --db temporal_visibility create
sql --db temporal_visibility setup-schema -v 0.0
sql --db temporal_visibility update-schema -d "$SCHEMA_DIR/visibility/versioned"

# Spoorwerk's own tables (read audit, dashboard sessions): the database only; the API creates its tables.
sql --db spoorwerk create

echo "Temporal schemas are up to date"
