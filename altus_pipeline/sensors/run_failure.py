"""The run-failure sensor: a failed raw partition becomes a transient extract record.

Which records a failed run leaves is planned in ``dlq.failed_runs``; this module makes it a
sensor. Runs Dagster will retry itself (``dagster/will_retry=true``) are skipped: only the
final failure counts.
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.dlq.failed_runs import failures_of_run
from altus_pipeline.dlq.statements import extract_recorded, record_failures
from altus_pipeline.resources import WarehouseResource

RUN_FAILURE_SENSOR = "dlq_run_failure_sensor"


@dg.run_failure_sensor(
    name=RUN_FAILURE_SENSOR,
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Records failed raw partitions in the dead-letter queue so they are retried with backoff.",
)
def dlq_run_failure_sensor(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    if run.tags.get("dagster/will_retry") == "true":
        return dg.SkipReason(f"run {run.run_id} will be retried by Dagster")
    with warehouse.warehouse().connect() as conn:
        failures = failures_of_run(context, extract_recorded(conn, run.run_id))
        record_failures(conn, failures)
        conn.commit()
    if not failures:
        return dg.SkipReason(f"run {run.run_id}: no unrecorded raw failure")
    context.log.info(f"run {run.run_id}: recorded {len(failures)} failed raw asset partition(s)")
    return None
