"""Pruning Dagster's run storage, which shares the warehouse database.

On Supabase's free tier the whole database is 500 MB, Dagster's schema ``dagster``
included, and a full sync adds ~2 KB per asset and day of its range (Dagster's own record
of each partition's materialization; ``benchmarks/dagster_footprint.py``). The daemon
purges schedule and sensor ticks itself (``retention:`` in ``dagster.yaml``), but Dagster
OSS never deletes runs and their events: ``altus runs prune`` and the schedule
``dagster_storage_prune_schedule`` do, for finished runs older than
``ALTUS_RUN_RETENTION_DAYS`` (default 7).

A run that still holds the latest materialization of an asset (or of a partition within
the partitions) or the latest execution of a check is kept whatever its age: the UI's
"latest materialization", partition status and staleness, and the check's status, read
them. Deleting a run deletes its events (Dagster's ``delete_run``) and its check
executions, which ``delete_run`` leaves behind.
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg
from sqlalchemy import text

from altus_pipeline.partitions import full_range
from altus_pipeline.schedules import cron
from altus_pipeline.settings import env_number

DEFAULT_KEEP_DAYS = 7
PRUNE_SCHEDULE = "dagster_storage_prune_schedule"
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]

# Runs holding the latest materialization of an asset or of a partition within the
# partitions (a materialization of a day outside them can never be superseded), or the
# latest execution of a check.
_LATEST_RUNS = """
SELECT run_id FROM (
    SELECT DISTINCT ON (asset_key, partition) run_id FROM event_logs
    WHERE dagster_event_type = 'ASSET_MATERIALIZATION'
      AND (partition IS NULL OR partition BETWEEN :first AND :last)
    ORDER BY asset_key, partition, id DESC
) m
UNION
SELECT run_id FROM (
    SELECT DISTINCT ON (asset_key, check_name) run_id FROM asset_check_executions
    ORDER BY asset_key, check_name, id DESC
) c
"""
# Per-partition PLANNED rows of finished runs: written once per day of a ranged run by
# Dagster before ``CheckOncePerRunEventLogStorage``, never completed (no Altus check is
# partitioned).
_STALE_PLANNED = """
DELETE FROM asset_check_executions e USING runs r
WHERE e.run_id = r.run_id AND r.status IN ('SUCCESS', 'FAILURE', 'CANCELED')
  AND e.execution_status = 'PLANNED' AND e.partition IS NOT NULL
"""


@dataclass(frozen=True)
class PruneResult:
    """What a prune removed, and how many old runs it kept because they are still the latest."""

    runs_deleted: int
    runs_kept: int
    stale_check_rows_deleted: int


def retention_days() -> int:
    """Days of finished runs to keep (``ALTUS_RUN_RETENTION_DAYS``, default 7)."""
    return int(env_number("ALTUS_RUN_RETENTION_DAYS", DEFAULT_KEEP_DAYS, minimum=1))


def prune_runs(
    instance: dg.DagsterInstance, keep_days: int = DEFAULT_KEEP_DAYS, now: dt.datetime | None = None
) -> PruneResult:
    """Delete finished runs created more than ``keep_days`` days before ``now``, except the latest ones."""
    if keep_days < 1:
        raise ValueError(f"keep_days={keep_days}: keep at least one day of runs")
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=keep_days)
    old = set(instance.get_run_ids(dg.RunsFilter(statuses=_FINISHED, created_before=cutoff)))
    first, last = full_range()
    storage = instance.event_log_storage
    with storage.index_connection() as conn:
        latest = {
            row[0] for row in conn.execute(text(_LATEST_RUNS), {"first": first.isoformat(), "last": last.isoformat()})
        }
    doomed = sorted(old - latest)
    for run_id in doomed:
        instance.delete_run(run_id)
    with storage.index_connection() as conn:
        if doomed:
            conn.execute(text("DELETE FROM asset_check_executions WHERE run_id = ANY(:ids)"), {"ids": doomed})
        stale = conn.execute(text(_STALE_PLANNED)).rowcount
    return PruneResult(runs_deleted=len(doomed), runs_kept=len(old) - len(doomed), stale_check_rows_deleted=stale)


def schema_bytes(conn, schema: str) -> int:
    """Bytes on disk of every table of ``schema`` with its indexes and TOAST (a psycopg connection)."""
    row = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
        (schema,),
    ).fetchone()
    return int(row[0])


@dg.op(description="Delete finished runs older than ALTUS_RUN_RETENTION_DAYS unless still the latest of something.")
def prune_dagster_runs(context: dg.OpExecutionContext) -> None:
    days = retention_days()
    result = prune_runs(context.instance, days)
    context.log.info(
        f"deleted {result.runs_deleted} run(s) older than {days} days, kept {result.runs_kept} "
        f"still the latest; removed {result.stale_check_rows_deleted} stale check row(s)"
    )


@dg.job(name="dagster_storage_prune_job", description="Keeps Dagster's run storage in the warehouse small.")
def prune_job() -> None:
    prune_dagster_runs()


prune_schedule = dg.ScheduleDefinition(
    name=PRUNE_SCHEDULE,
    job=prune_job,
    cron_schedule=cron("ALTUS_PRUNE_CRON", "30 4 * * *"),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily: delete Dagster runs older than ALTUS_RUN_RETENTION_DAYS (default 7) with their events.",
)
