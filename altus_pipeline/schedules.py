"""Schedules: the daily sync and the weekly reconcile. Both ship stopped (see the README).

* ``daily_sync_schedule`` (06:00 UTC): one run holding master data (only what changed since
  the last run, ``raw/incremental.py``), the last
  ``ALTUS_DAILY_LOOKBACK_DAYS`` days (default 7, today included) of every partitioned
  entity as one ranged run (one listing per entity), then — in dependency order, same run —
  the normalized tables and, when the Definitions have them, the KPI and views assets
  (KPI partitions of the same window, so today's is among them). When ``ALTUS_LEGAL_WORKBOOK``
  names a workbook, the legal import runs in it after the normalized tables (and
  ``get_full_legal_cases`` with the views); when ``ALTUS_LEGAL_EXPORT_PATH`` is set, the
  legal export is written last. Both are read at each tick, so setting them needs no reload.
* ``weekly_reconcile_schedule`` (Sunday 03:00 UTC): master data as full snapshots (the daily
  run reads only what changed, so only this run sees a master record deleted), and every
  partition of the transactional entities as one single-run backfill, each entity listed
  once without a date filter (``partitions.reconcile_tags``), which catches back-dated records, deletions the daily
  window cannot see and records without a usable business date (to the DLQ), then the
  normalized tables. The KPI dates its changes made stale, and the views, are recomputed
  after it by ``kpi_history_sensor`` (the range is known only once raw has loaded).
"""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
from dagster._utils.schedules import is_valid_cron_string

from altus_pipeline.assets.raw import MASTER_KEYS, TRANSACTION_KEYS
from altus_pipeline.legal.runs import configured_workbook, import_config, legal_keys, target_keys
from altus_pipeline.partitions import full_range, range_tags, reconcile_tags
from altus_pipeline.settings import env_number

DAILY_SCHEDULE = "daily_sync_schedule"
WEEKLY_SCHEDULE = "weekly_reconcile_schedule"
DOWNSTREAM_GROUPS = ("normalized", "kpi", "views")  # refreshed after raw by the daily run, in this order


def cron(variable: str, default: str) -> str:
    """A schedule's cron string: ``variable`` from the environment, else ``default``.

    Operators move a schedule to their quiet hours without a code change; tests make one
    tick every minute to see the daemon run it.
    """
    text = os.environ.get(variable, "").strip() or default
    if not is_valid_cron_string(text):
        raise ValueError(f"{variable}={text!r}: expected a cron string such as {default!r}")
    return text


def lookback_days() -> int:
    """Days of transactions the daily run re-reads (``ALTUS_DAILY_LOOKBACK_DAYS``, default 7)."""
    return int(env_number("ALTUS_DAILY_LOOKBACK_DAYS", 7, minimum=1))


def daily_window(day: dt.date, days: int | None = None) -> tuple[dt.date, dt.date]:
    """The last ``days`` business dates ending ``day``, clipped to the partitions."""
    first, last = full_range()
    end = min(day, last)
    start = max(first, end - dt.timedelta(days=(days or lookback_days()) - 1))
    return start, end


def _keys_of_groups(assets: list, groups: tuple[str, ...]) -> list[str]:
    """Asset keys of ``assets`` in ``groups``, group by group (only what the Definitions hold)."""
    specs = [s for a in assets if isinstance(a, dg.AssetsDefinition) for s in a.specs]
    return [s.key.to_user_string() for g in groups for s in specs if s.group_name == g]


def build_schedules(assets: list) -> list[dg.ScheduleDefinition]:
    """Both schedules over the assets of the Definitions (KPI and views keys when present)."""
    downstream = _keys_of_groups(assets, DOWNSTREAM_GROUPS)
    normalized = _keys_of_groups(assets, ("normalized",))
    daily_keys = MASTER_KEYS + TRANSACTION_KEYS + downstream
    weekly_keys = MASTER_KEYS + TRANSACTION_KEYS + normalized

    @dg.schedule(
        name=DAILY_SCHEDULE,
        cron_schedule=cron("ALTUS_DAILY_CRON", "0 6 * * *"),
        execution_timezone="UTC",
        target=dg.AssetSelection.assets(*daily_keys, *target_keys(assets)),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Master data, the last N days of transactions, normalized, KPIs and views, and the legal "
        "import and export when configured: one run.",
    )
    def _daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.astimezone(dt.UTC).date()
        start, end = daily_window(day)
        workbook = configured_workbook()
        keys = list(dict.fromkeys([*daily_keys, *legal_keys(assets, with_import=workbook is not None)]))
        return dg.RunRequest(
            run_key=f"daily:{day.isoformat()}",
            asset_selection=[dg.AssetKey(k) for k in keys],
            run_config=import_config(str(workbook)) if workbook is not None else {},
            tags={**range_tags(start, end), "altus/schedule": DAILY_SCHEDULE},
        )

    @dg.schedule(
        name=WEEKLY_SCHEDULE,
        cron_schedule=cron("ALTUS_WEEKLY_CRON", "0 3 * * 0"),
        execution_timezone="UTC",
        target=dg.AssetSelection.assets(*weekly_keys),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Master data as full snapshots and every partition of the transactional entities in one "
        "single-run backfill, each listed once without a date filter, then normalized; kpi_history_sensor then recomputes the KPI "
        "dates it changed and the views.",
    )
    def _weekly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.astimezone(dt.UTC).date()
        return dg.RunRequest(
            run_key=f"weekly:{day.isoformat()}",
            asset_selection=[dg.AssetKey(k) for k in weekly_keys],
            tags={**reconcile_tags(day), "altus/schedule": WEEKLY_SCHEDULE},
        )

    return [_daily, _weekly]
