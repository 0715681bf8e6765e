"""The daily business-date partitions shared by transactional raw assets and KPIs.

The partitions are a function of the settings (``ALTUS_PARTITION_START``), read when the
Definitions are built or a range is checked, never when this module is imported: a command
may settle its settings first (``altus demo`` starts them where its sandbox's history does).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import dagster as dg

from altus_pipeline import settings


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """The daily partitions from ``ALTUS_PARTITION_START`` as it is now, up to today."""
    return _daily_partitions(settings.partition_start())


@cache
def _daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, so the daily schedule can load today's records.
    return dg.DailyPartitionsDefinition(start_date=start, end_offset=1)


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """Inclusive first and last date of the run's partition or partition range.

    A run whose tags name days outside the partitions (launched by hand; Dagster does not
    refuse it) fails here with the valid bounds instead of reading DoorLoop for them.
    """
    window = context.partition_time_window
    return check_range(window.start.date(), (window.end - dt.timedelta(days=1)).date())


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class DateRange:
    """Inclusive business-date range of a partitioned load."""

    start: dt.date
    end: dt.date

    @property
    def partition_key(self) -> str:
        first, last = self.start.isoformat(), self.end.isoformat()
        return first if first == last else f"{first}...{last}"


class PartitionRangeError(ValueError):
    """A date range the daily partitions do not cover, refused before anything is planned.

    Dagster does not refuse such a range itself: it plans and records every day of it, so
    a typo like 1900..2100 spent minutes and a gigabyte before the run even started.
    """


def range_tags(start: dt.date | str, end: dt.date | str) -> dict[str, str]:
    """Run tags that make one run materialize partitions ``start``..``end`` (a single-run backfill).

    Raises ``PartitionRangeError`` (naming the valid bounds) for a range outside the partitions.
    """
    first, last = check_range(start, end)
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


def full_range() -> tuple[dt.date, dt.date]:
    """Every business date the partitions cover, first to today.

    Time arithmetic on the partitions definition, never a list of its keys: listing the
    keys from a 1900 start costs seconds and megabytes on every call.
    """
    partitions = daily_partitions()
    first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    if first is None or last is None:
        raise PartitionRangeError(
            f"no daily partitions yet: ALTUS_PARTITION_START={settings.partition_start()} is after today"
        )
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PartitionRangeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def check_range(start: dt.date | str, end: dt.date | str) -> tuple[dt.date, dt.date]:
    """``start``..``end`` as dates when the partitions cover all of it, else ``PartitionRangeError``.

    Constant time and memory whatever the range's length; the message names the valid
    bounds so the caller can correct a typo at once.
    """
    start, end = _as_date(start), _as_date(end)
    first, last = full_range()
    if end < start:
        raise PartitionRangeError(f"{start}..{end}: the last date is before the first")
    if start < first or end > last:
        raise PartitionRangeError(
            f"{start}..{end} is outside the daily partitions: dates run from {first} "
            f"(ALTUS_PARTITION_START) to {last} (today)"
        )
    return start, end


def clip_range(start: dt.date | str, end: dt.date | str) -> tuple[dt.date, dt.date] | None:
    """The part of ``start``..``end`` the partitions cover, or None when they share no date.

    For ranges computed from data (sensors, schedules), which must not fail a tick on a
    record dated before the partitions or in the future.
    """
    first, last = full_range()
    start, end = max(_as_date(start), first), min(_as_date(end), last)
    return (start, end) if start <= end else None


# A ranged run with this tag reconciles: its partitioned raw assets list DoorLoop once without
# a date filter, so a record no date partition can list (no usable business date) is seen too.
UNFILTERED_TAG = "altus/unfiltered"


def reconcile_tags(last: dt.date | None = None) -> dict[str, str]:
    """Run tags of a reconcile: every partition (up to ``last``), each entity listed unfiltered."""
    first, today = full_range()
    return {**range_tags(first, min(last, today) if last else today), UNFILTERED_TAG: "true"}


def is_reconcile(tags: Mapping[str, str]) -> bool:
    """Whether a run's tags ask for the unfiltered listing."""
    return tags.get(UNFILTERED_TAG) == "true"
