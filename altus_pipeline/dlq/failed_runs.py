"""What the run-failure sensor plans: a failed raw partition becomes a transient extract record.

Raw assets record DoorLoop errors themselves. Anything else that fails a run — a crashed
run worker, a database error, a timeout outside the client — would otherwise be lost:
one ``extract`` record per failed raw asset and partition (range) of the run is recorded,
unless the run already recorded one, so the DLQ sensor retries it with backoff.
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.dlq.model import Failure, payload_hash
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.partitions import is_reconcile

_RAW_BY_TABLE = {e.raw_table: e for e in ENTITIES.values()}


def run_partition_key(run: dg.DagsterRun) -> str | None:
    """The run's partition or partition range, in the DLQ's ``first...last`` form.

    A reconcile has none: its listings are unfiltered, and so must its retry be.
    """
    tags = run.tags
    if is_reconcile(tags):
        return None
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    first, last = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if first and last:
        return first if first == last else f"{first}...{last}"
    return None


def failed_raw_tables(context: dg.RunFailureSensorContext) -> dict[str, str]:
    """Raw tables of the run that failed (step key → error message)."""
    failed: dict[str, str] = {}
    for event in context.get_step_failure_events():
        table = event.step_key
        if table in _RAW_BY_TABLE:
            error = getattr(event.event_specific_data, "error", None)
            failed[table] = error.message.strip().splitlines()[0] if error and error.message else "step failed"
    if failed:
        return failed
    # the run failed outside any step (a crash): every selected raw asset it did not materialize
    run = context.dagster_run
    selected = {k.to_user_string() for k in (run.asset_selection or ())}
    done = {
        r.event_log_entry.dagster_event.asset_key.to_user_string()
        for r in context.instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
        ).records
    }
    message = context.failure_event.message or "run failed"
    return {t: message for t in sorted(selected - done) if t in _RAW_BY_TABLE}


def failures_of_run(context: dg.RunFailureSensorContext, already: set[str]) -> list[Failure]:
    """The records of the run's failed raw assets, but those in ``already`` (recorded by the run)."""
    run = context.dagster_run
    partition_key = run_partition_key(run)
    failures = []
    for table, message in failed_raw_tables(context).items():
        if table in already:
            continue
        entity = _RAW_BY_TABLE[table]
        failures.append(
            Failure(
                entity=entity.name,
                doorloop_id="",
                stage="extract",
                asset_key=table,
                partition_key=partition_key,
                payload=None,
                payload_hash=payload_hash(f"{table}|{partition_key}|run_failure"),
                error_class="transient",
                field=None,
                message=f"{entity.name}: run {run.run_id} failed: {message}"[:2000],
                run_id=run.run_id,
            )
        )
    return failures
