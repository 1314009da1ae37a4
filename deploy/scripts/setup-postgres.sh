#!/bin/sh
# One shot (temporalio/admin-tools): create Temporal's two PostgreSQL databases and bring their
# schema to the version this admin-tools image ships. Safe to run again: existing databases
# are kept and only upgraded.
set -eu

tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT"
until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do sleep 1; done

for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  schema=${pair#*:}
  if tool --db "$db" create 2>/dev/null; then
    echo "created database $db"
    tool --db "$db" setup-schema -v 0.0
  fi
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo "schema ready"
