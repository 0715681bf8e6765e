#!/usr/bin/env bash
# Run the warehouse tests (migrations, raw, normalize, KPIs, views) against PostgreSQL 15,
# the oldest server the warehouse supports, in a throwaway cluster on a unix socket.
#
#   altus_pipeline_tests/pg15.sh [pytest args...]   (make test-pg15)
#
# PG_BINDIR names another server's binaries (default: Debian's /usr/lib/postgresql/15/bin;
# as root, a missing one is installed with apt-get). initdb refuses to run as root, so as
# root the cluster belongs to the `postgres` user. The cluster is stopped and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
# Migrations, comments, the reader role, the guarded casts, raw loads, normalize (good and
# bad records, a first load's keys dropped and made again), KPIs and the views on them, and
# Dagster's event log as the project stores it: what depends on the server's SQL dialect.
TESTS=(
    altus_pipeline_tests/warehouse/test_casts.py
    altus_pipeline_tests/warehouse/test_comments.py
    altus_pipeline_tests/views/test_grant_reader.py
    altus_pipeline_tests/warehouse/test_warehouse.py::test_migrations_create_every_object_in_the_schema_and_are_idempotent
    altus_pipeline_tests/warehouse/test_warehouse.py::test_a_changed_normalized_table_rebuilds_the_layer_and_the_views_on_it
    altus_pipeline_tests/dagster/test_roadmap.py::test_repository_definitions_and_database_follow_the_plan
    altus_pipeline_tests/dagster/test_event_log_storage.py
    altus_pipeline_tests/raw/test_raw.py::test_deleted_records_are_soft_deleted_restored_and_changes_update_once
    altus_pipeline_tests/normalized/test_normalized.py::test_small_normalizes_fully_and_a_rerun_writes_nothing
    altus_pipeline_tests/normalized/test_normalized.py::test_bad_records_go_to_the_dlq_and_resolve_when_fixed
    altus_pipeline_tests/normalized/test_first_load.py::test_a_first_load_leaves_every_foreign_key_and_index_as_the_migrations_made_them
    altus_pipeline_tests/kpi/test_kpis.py::test_golden_kpis_match_the_hand_worked_values
    "altus_pipeline_tests/kpi/test_kpis.py::test_identities_hold_for_every_date_of_a_60_day_backfill[small]"
)

if [ ! -x "$PG_BINDIR/postgres" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    else
        echo "pg15.sh: no PostgreSQL 15 in $PG_BINDIR; install postgresql-15 or set PG_BINDIR" >&2
        exit 2
    fi
fi

RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    RUN_AS=(runuser -u postgres --)
fi

CLUSTER=$(mktemp -d /tmp/altus-pg15.XXXXXX)
chmod 755 "$CLUSTER"
[ ${#RUN_AS[@]} -eq 0 ] || chown postgres "$CLUSTER"

stop() {
    if [ -f "$CLUSTER/data/postmaster.pid" ]; then
        "${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$CLUSTER/data" -m immediate stop >/dev/null
    fi
    rm -rf "$CLUSTER"
}
trap stop EXIT

"${RUN_AS[@]}" "$PG_BINDIR/initdb" -D "$CLUSTER/data" -U postgres --auth=trust --encoding=utf8 >/dev/null
"${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$CLUSTER/data" -l "$CLUSTER/server.log" -w \
    -o "-k $CLUSTER -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
"$PG_BINDIR/createdb" -h "$CLUSTER" -U postgres altus_test

export ALTUS_TEST_DATABASE_URL="postgresql://postgres@/altus_test?host=$CLUSTER"
echo "pg15.sh: $("$PG_BINDIR/psql" -h "$CLUSTER" -U postgres -Atc 'SHOW server_version' altus_test)"
.venv/bin/pytest -q -p no:cacheprovider "${TESTS[@]}" "$@"
