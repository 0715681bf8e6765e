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
