"""The daily business-date partitions shared by transactional raw assets and KPIs."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from altus_pipeline import settings

# end_offset=1: today's partition exists, so the daily schedule can load today's records.
daily_partitions = dg.DailyPartitionsDefinition(start_date=settings.partition_start(), end_offset=1)


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """Inclusive first and last date of the run's partition or partition range."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(start: dt.date | str, end: dt.date | str) -> dict[str, str]:
    """Run tags that make one run materialize partitions ``start``..``end`` (a single-run backfill)."""
    return {RANGE_START_TAG: str(start), RANGE_END_TAG: str(end)}


def full_range() -> tuple[dt.date, dt.date]:
    """Every business date the partitions cover, first to today."""
    keys = daily_partitions.get_partition_keys()
    return dt.date.fromisoformat(keys[0]), dt.date.fromisoformat(keys[-1])
