"""``kpi_history_sensor``: after raw changes, one ranged run recomputes the stale KPI dates, then the views.

Each tick reads the audit rows newer than its cursor (``kpi.stale``): when a raw load
since then changed data dated D, it requests one run of the normalized tables
(incremental: cheap when raw loads already normalized), ``kpi_daily_snapshot`` for
D..today as a single-run backfill, and ``kpi_summary`` and the views. The run key is the
audit watermark, so a tick repeated by the daemon requests nothing twice. While any run is
in progress the tick waits: a raw run's normalize, or the recompute itself, must finish
before the range is read, else the KPIs would be rebuilt from normalized tables that do
not hold the change yet. A failed recompute is not re-requested (it would fail the same
way); its dates stay stale for ``altus kpis --stale``.

Each tick also reports the ``history_current`` check of ``kpi_daily_snapshot`` as a
runless evaluation when its result changed, so the UI shows the stale dates (or that none
are) before any KPI run, without an event per tick.
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.checks.kpis import HISTORY_CHECK, history_evaluation
from altus_pipeline.kpi.stale import StaleKpis, stale_history, stale_kpis
from altus_pipeline.partitions import range_tags
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.schedules import DOWNSTREAM_GROUPS, _keys_of_groups
from altus_pipeline.settings import env_number

KPI_HISTORY_SENSOR = "kpi_history_sensor"
STALE_FROM_TAG = "altus/kpi_stale_from"
RUNNING = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def stale_request(stale: StaleKpis, keys: list[str]) -> dg.RunRequest | None:
    """The run that recomputes ``stale`` (normalized, the KPI range, the views); None when nothing is stale."""
    if stale.dates is None:
        return None
    start, end = stale.dates
    return dg.RunRequest(
        run_key=f"kpi-history:{stale.watermark}",
        asset_selection=[dg.AssetKey(k) for k in keys],
        tags={**range_tags(start, end), STALE_FROM_TAG: start.isoformat(), "altus/sensor": KPI_HISTORY_SENSOR},
    )


def report_history(instance: dg.DagsterInstance, stale: StaleKpis) -> bool:
    """Report ``history_current`` for ``stale`` unless its latest evaluation already says the same; True if reported."""
    evaluation = history_evaluation(stale)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([HISTORY_CHECK]).get(HISTORY_CHECK)
    shown = latest.event.dagster_event.event_specific_data if latest and latest.event else None
    if (
        isinstance(shown, dg.AssetCheckEvaluation)
        and shown.passed == evaluation.passed
        and shown.metadata == evaluation.metadata
    ):
        return False
    instance.report_runless_asset_event(evaluation)
    return True


def build_kpi_history_sensor(assets: list) -> dg.SensorDefinition:
    """The sensor over the normalized, KPI and views assets of the Definitions."""
    keys = _keys_of_groups(assets, DOWNSTREAM_GROUPS)

    @dg.sensor(
        name=KPI_HISTORY_SENSOR,
        minimum_interval_seconds=int(env_number("ALTUS_KPI_HISTORY_SENSOR_INTERVAL_SECONDS", 60, minimum=1)),
        default_status=dg.DefaultSensorStatus.STOPPED,
        target=dg.AssetSelection.assets(*keys),
        description="After raw loads change data dated D: one run of normalized, kpi_daily_snapshot D..today "
        "and the views.",
    )
    def _kpi_history_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        busy = context.instance.get_run_ids(dg.RunsFilter(statuses=RUNNING), limit=1)
        with warehouse.warehouse().connect() as conn:
            stale = stale_kpis(conn, int(context.cursor or 0))
            history = stale_history(conn)
        if report_history(context.instance, history):
            context.log.info(f"history_current reported: {'passed' if history.dates is None else history.dates}")
        if stale.dates is None:
            return dg.SensorResult(
                skip_reason=f"no raw change to KPI data up to audit row {stale.watermark}", cursor=str(stale.watermark)
            )
        span = f"kpi_daily_snapshot stale {stale.dates[0]}..{stale.dates[1]}"
        if busy:
            return dg.SensorResult(skip_reason=f"{span}; waiting for run {busy[0]} to finish")
        context.log.info(f"{span}: requesting one run (audit row {stale.watermark})")
        return dg.SensorResult(run_requests=[stale_request(stale, keys)], cursor=str(stale.watermark))

    return _kpi_history_sensor
