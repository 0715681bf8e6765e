"""Alert sensors: a failed run, a dead DLQ record, a failed blocking check, an overdue asset.

Each sensor turns the events since its cursor into ``alerts.Alert``s and hands them to
``alerts.deliver``, whose sent-log makes every message go out once even when a tick is
repeated. The cursor keeps ticks cheap: the event log's storage id for checks and
freshness, the newest ``last_seen_at`` for dead records (re-read with a short overlap, since
a record's timestamp is its transaction's start and may commit after a later one). A first
tick starts from now: switching a sensor on does not replay history. All ship stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState

from altus_pipeline.alerts import Alert, Channel, channels_from_env, deliver
from altus_pipeline.dlq.failed_runs import run_partition_key
from altus_pipeline.dlq.statements import dead_since
from altus_pipeline.resources import WarehouseResource

ALERT_RUN_FAILURE_SENSOR = "alert_run_failure_sensor"
ALERT_DLQ_DEAD_SENSOR = "alert_dlq_dead_sensor"
ALERT_CHECK_SENSOR = "alert_blocking_check_sensor"
ALERT_FRESHNESS_SENSOR = "alert_freshness_sensor"
ALERT_SENSORS = (ALERT_RUN_FAILURE_SENSOR, ALERT_DLQ_DEAD_SENSOR, ALERT_CHECK_SENSOR, ALERT_FRESHNESS_SENSOR)
BATCH = 200
DLQ_OVERLAP = "5 minutes"
NO_CHANNEL = "no alert channel configured (ALTUS_TEAMS_WEBHOOK_URL, ALTUS_SLACK_WEBHOOK_URL)"


def _first_line(text: str | None, default: str) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else default


def _send(warehouse: WarehouseResource, alerts: list[Alert], channels: list[Channel]) -> int:
    if not alerts:
        return 0
    with warehouse.warehouse().connect() as conn:
        return deliver(conn, alerts, channels)


# -- run failure -------------------------------------------------------------------------------


def run_failure_alert(context: dg.RunFailureSensorContext) -> Alert:
    """The failed run: its failed steps (else its selected assets, else its job) and first error."""
    run = context.dagster_run
    failures = context.get_step_failure_events()
    assets = (
        sorted({e.step_key for e in failures if e.step_key})
        or sorted(k.to_user_string() for k in (run.asset_selection or ()))
        or [run.job_name]
    )
    error = getattr(failures[0].event_specific_data, "error", None) if failures else None
    reason = _first_line(error.message if error else context.failure_event.message, "run failed")
    return Alert(
        key=f"run:{run.run_id}",
        title="run failed",
        asset=", ".join(assets)[:300],
        partitions=run_partition_key(run),
        reason=reason,
        run_id=run.run_id,
    )


@dg.run_failure_sensor(
    name=ALERT_RUN_FAILURE_SENSOR,
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Posts one Teams/Slack message per finally failed run (not those Dagster retries).",
)
def alert_run_failure_sensor(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    if run.tags.get("dagster/will_retry") == "true":
        return dg.SkipReason(f"run {run.run_id} will be retried by Dagster")
    channels = channels_from_env()
    if not channels:
        return dg.SkipReason(NO_CHANNEL)
    sent = _send(warehouse, [run_failure_alert(context)], channels)
    return dg.SkipReason(f"run {run.run_id}: {sent} message(s) posted")


# -- dead DLQ records --------------------------------------------------------------------------


def dead_record_alerts(conn, since_micros: int) -> tuple[list[Alert], int]:
    """Records that went ``dead`` since the watermark (with overlap), and the new watermark.

    The key holds the attempts: a dead record retried by hand that dies again is a new event.
    """
    rows = dead_since(conn, since_micros, DLQ_OVERLAP, BATCH)
    alerts = [
        Alert(
            key=f"dlq:{rid}:{attempts}",
            title=f"dead-letter record {rid} is dead after {attempts} attempt(s)",
            asset=asset,
            partitions=partition,
            reason=f"{entity} {stage} ({error_class}): {_first_line(message, '')}",
            run_id=run_id,
        )
        for rid, attempts, entity, stage, error_class, asset, partition, message, run_id, _ in rows
    ]
    return alerts, max([since_micros, *(r[-1] for r in rows)])


@dg.sensor(
    name=ALERT_DLQ_DEAD_SENSOR,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Posts one Teams/Slack message per dead-letter record that ends dead.",
)
def alert_dlq_dead_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    channels = channels_from_env()
    with warehouse.warehouse().connect() as conn:
        if context.cursor is None:
            now = conn.execute("SELECT (extract(epoch FROM now()) * 1000000)::bigint").fetchone()[0]
            return dg.SensorResult(skip_reason="first tick: alerting from now on", cursor=json.dumps({"since": now}))
        since = int(json.loads(context.cursor)["since"])
        alerts, watermark = dead_record_alerts(conn, since)
        sent = deliver(conn, alerts, channels) if channels else 0
    return dg.SensorResult(
        skip_reason=f"{sent} message(s) posted" if channels else NO_CHANNEL, cursor=json.dumps({"since": watermark})
    )


# -- event-log sensors: blocking checks and freshness ------------------------------------------


def _records_after(instance: dg.DagsterInstance, event_type: dg.DagsterEventType, cursor: str | None):
    """New event records of a type and the storage id to resume from (the newest one on a first tick)."""
    if cursor is None:
        newest = instance.get_event_records(dg.EventRecordsFilter(event_type=event_type), limit=1)
        return [], newest[0].storage_id if newest else 0
    after = int(cursor)
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=event_type, after_cursor=after), limit=BATCH, ascending=True
    )
    return list(records), records[-1].storage_id if records else after


def check_failure_alert(instance: dg.DagsterInstance, record: dg.EventLogRecord) -> Alert | None:
    """An alert when the evaluation is of a blocking check that failed with severity ERROR (the
    only failures that stop what is downstream)."""
    evaluation = record.event_log_entry.dagster_event.event_specific_data
    if evaluation.passed or not evaluation.blocking or evaluation.severity != dg.AssetCheckSeverity.ERROR:
        return None
    run_id = record.run_id or None
    run = instance.get_run_by_id(run_id) if run_id else None
    partitions = evaluation.partition or (run_partition_key(run) if run else None)
    details = ", ".join(f"{k}={getattr(v, 'value', v)}" for k, v in evaluation.metadata.items())
    reason = evaluation.description or details or "check failed"
    asset = evaluation.asset_key.to_user_string()
    return Alert(
        key=f"check:{record.storage_id}",
        title=f"blocking check {evaluation.check_name} failed",
        asset=asset,
        partitions=partitions,
        reason=f"{evaluation.check_name}: {reason}",
        run_id=run_id,
    )


def freshness_alert(instance: dg.DagsterInstance, record: dg.EventLogRecord) -> Alert | None:
    """An alert when the freshness daemon turned an asset ``FAIL``: past its policy's fail window.

    The link is the asset's last materializing run when there is one (what went stale).
    """
    change = record.event_log_entry.dagster_event.event_specific_data
    if change.new_state != FreshnessState.FAIL:
        return None
    latest = instance.get_latest_materialization_event(change.key)
    asset = change.key.to_user_string()
    return Alert(
        key=f"freshness:{record.storage_id}",
        title="data is overdue",
        asset=asset,
        partitions=None,
        reason=f"freshness {change.previous_state.value} -> FAIL: not updated within its freshness policy's fail window",
        run_id=latest.run_id if latest else None,
    )


def _event_log_alert_sensor(
    name: str,
    event_type: dg.DagsterEventType,
    to_alert: Callable[[dg.DagsterInstance, dg.EventLogRecord], Alert | None],
    description: str,
) -> dg.SensorDefinition:
    """A sensor posting the alerts ``to_alert`` makes of the event log's ``event_type`` records after its cursor."""

    @dg.sensor(
        name=name, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED, description=description
    )
    def _sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        records, cursor = _records_after(context.instance, event_type, context.cursor)
        alerts = [a for a in (to_alert(context.instance, r) for r in records) if a]
        channels = channels_from_env()
        sent = _send(warehouse, alerts, channels) if channels else 0
        return dg.SensorResult(skip_reason=f"{sent} message(s) posted" if channels else NO_CHANNEL, cursor=str(cursor))

    return _sensor


alert_blocking_check_sensor = _event_log_alert_sensor(
    ALERT_CHECK_SENSOR,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    check_failure_alert,
    "Posts one Teams/Slack message per failed evaluation of a blocking asset check.",
)
alert_freshness_sensor = _event_log_alert_sensor(
    ALERT_FRESHNESS_SENSOR,
    dg.DagsterEventType.FRESHNESS_STATE_CHANGE,
    freshness_alert,
    "Posts one Teams/Slack message each time an asset's freshness turns FAIL (overdue).",
)


alert_sensors = [alert_run_failure_sensor, alert_dlq_dead_sensor, alert_blocking_check_sensor, alert_freshness_sensor]
