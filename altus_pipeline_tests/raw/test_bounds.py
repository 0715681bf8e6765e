"""Date ranges are checked against the daily partitions before anything is planned.

A typo such as ``--from 1900-01-01 --to 2100-01-01`` used to run for minutes and fill
Dagster's storage; now it is refused at once with the valid bounds, and ranges computed
from data (the DLQ sensor) are clipped to the partitions. Planning costs the same for a
day as for a century: nothing lists the partitions' keys.
"""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc

import dagster as dg
import pytest
from click.testing import CliRunner

from altus_pipeline import partitions
from altus_pipeline.cli.main import main
from altus_pipeline.definitions import build_definitions
from altus_pipeline.dlq.retries import run_request
from altus_pipeline.dlq.statements import DueGroup
from altus_pipeline.partitions import (
    PartitionRangeError,
    check_range,
    clip_range,
    full_range,
    range_tags,
    reconcile_tags,
)
from altus_pipeline.runner import kpis
from altus_pipeline.schedules import daily_window


def _bounds() -> tuple[str, str]:
    first, last = full_range()
    return first.isoformat(), last.isoformat()


@pytest.mark.parametrize("command", [["kpis"], ["sync", "--entity", "lease_charges"]])
@pytest.mark.parametrize("span", [("1900-01-01", "2100-01-01"), ("2024-09-24", "2024-10-02")])
def test_cli_refuses_a_range_outside_the_partitions_at_once_naming_the_bounds(command, span):
    started = time.monotonic()
    result = CliRunner().invoke(main, [*command, "--from", span[0], "--to", span[1]])
    assert result.exit_code == 2, result.output
    first, last = _bounds()
    assert f"{span[0]}..{span[1]} is outside the daily partitions" in result.output
    assert first in result.output and last in result.output
    assert time.monotonic() - started < 5


def test_range_tags_and_runs_refuse_out_of_bounds_ranges_before_a_run_exists():
    first, last = full_range()
    with pytest.raises(PartitionRangeError, match=f"dates run from {first} .* to {last}"):
        range_tags("1900-01-01", "2100-01-01")
    with pytest.raises(PartitionRangeError, match="before the first"):
        range_tags(last, first)
    assert range_tags(first, last) == {
        partitions.RANGE_START_TAG: first.isoformat(),
        partitions.RANGE_END_TAG: last.isoformat(),
    }
    instance, defs = dg.DagsterInstance.ephemeral(), build_definitions()
    with pytest.raises(PartitionRangeError):
        kpis(defs, instance, (first - dt.timedelta(days=3), first))
    with pytest.raises(PartitionRangeError):
        kpis(defs, instance, (last, last + dt.timedelta(days=1)))
    assert instance.get_runs_count() == 0


def test_the_dlq_sensor_clips_ranges_to_the_partitions():
    first, last = full_range()
    group = DueGroup("doorloop_raw_lease_charges", "extract", "2020-01-01...2999-12-31", (1,), 1, "g")
    request = run_request(None, group)
    assert (request.tags[partitions.RANGE_START_TAG], request.tags[partitions.RANGE_END_TAG]) == (
        first.isoformat(),
        last.isoformat(),
    )
    gone = run_request(None, DueGroup("doorloop_raw_lease_charges", "extract", "2001-02-03", (2,), 1, "g"))
    assert gone.partition_key is None and partitions.is_reconcile(gone.tags)


def test_the_partitions_follow_the_setting_when_the_definitions_are_built(monkeypatch):
    """No import order matters: the start is read when the Definitions are built, not at import."""
    monkeypatch.setenv("ALTUS_PARTITION_START", "2025-03-01")
    graph = build_definitions().resolve_asset_graph()
    for key in ("kpi_daily_snapshot", "doorloop_raw_lease_charges"):
        assert graph.get(dg.AssetKey(key)).partitions_def.get_first_partition_key() == "2025-03-01", key
    assert full_range()[0] == dt.date(2025, 3, 1)


def test_planning_a_century_costs_what_a_day_costs(monkeypatch):
    monkeypatch.setenv("ALTUS_PARTITION_START", "1900-01-01")  # the partitions follow the setting at once
    today = full_range()[1]
    tracemalloc.start()
    started = time.perf_counter()
    assert full_range() == (dt.date(1900, 1, 1), today)
    assert check_range("1900-01-01", today) == (dt.date(1900, 1, 1), today)
    assert clip_range("1800-01-01", "2999-01-01") == (dt.date(1900, 1, 1), today)
    assert clip_range("1800-01-01", "1850-01-01") is None
    assert reconcile_tags()[partitions.RANGE_START_TAG] == "1900-01-01"
    assert daily_window(today, 7) == (today - dt.timedelta(days=6), today)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 0.2 and peak < 1_000_000, (seconds, peak)
