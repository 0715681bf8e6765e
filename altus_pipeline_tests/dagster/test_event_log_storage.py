"""The event log stores a ranged run's materializations in one statement per batch, in order.

A reconcile run records a materialization per partition and asset; ``CheckOncePerRunEventLogStorage``
inserts each batch from one bound JSON array instead of a statement compiled per batch. The
ids it returns are paired with the events in order (event tags, the asset's latest event), so
the order is what this holds, on a real ranged run of a small partitioned asset.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from psycopg import sql

from altus_pipeline.instance import apply_event_settings, instance_yaml
from altus_pipeline.warehouse.db import Warehouse

FIRST = dt.date(2024, 1, 1)
DAYS = 40
partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST.isoformat(), end_date=(FIRST + dt.timedelta(DAYS)).isoformat()
)


@dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
def ranged(context) -> dg.MaterializeResult:  # noqa: ANN001 (Dagster reads the hint at run time)
    return dg.MaterializeResult(metadata={"partitions": len(context.partition_keys)})


@pytest.fixture
def instance(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    schema = f"dagster_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", Warehouse(pg_url, "unused").dagster_storage_url(schema))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "16")  # several batches, the last one partial
    apply_event_settings()
    (tmp_path / "dagster.yaml").write_text(instance_yaml())
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_a_ranged_run_stores_one_materialization_per_partition_in_order(instance: dg.DagsterInstance) -> None:
    last = FIRST + dt.timedelta(DAYS - 1)
    result = dg.materialize(
        [ranged],
        instance=instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: FIRST.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
    )
    assert result.success

    key = dg.AssetKey("ranged")
    keys = partitions.get_partition_keys()
    records = instance.fetch_materializations(key, limit=DAYS + 1, ascending=True).records
    assert [r.partition_key for r in records] == keys
    assert [r.storage_id for r in records] == sorted({r.storage_id for r in records})
    assert all(r.timestamp > 0 for r in records)
    assert instance.get_materialized_partitions(key) == set(keys)
    latest = instance.get_latest_materialization_event(key)
    assert latest is not None and latest.dagster_event.partition == keys[-1]
    # event tags are stored against the ids returned for the batch: each partition keeps its own
    for record in (records[0], records[17], records[-1]):
        tagged = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[record.partition_key]), limit=1
        ).records
        assert [r.storage_id for r in tagged] == [record.storage_id]
