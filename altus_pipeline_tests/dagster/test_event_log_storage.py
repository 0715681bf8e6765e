"""The event log stores a ranged run's materializations in one statement per batch, in order.

A reconcile run records a materialization per partition and asset; ``CheckOncePerRunEventLogStorage``
inserts each batch and its tags from bound JSON arrays in one statement instead of statements
compiled per batch. Each event's tags go to the id stored for it (ids are taken in the
events' order), so the order is what this holds, on a real ranged run of a small
partitioned asset. Each shape of materialization is serialized once (``event_templates``) and
PostgreSQL fills each partition's values into it: the rows stored must be exactly the ones
Dagster's own ``_event_to_row`` makes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import psycopg2
import pytest
import sqlalchemy
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import sql_event_log
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster_postgres.event_log import PostgresEventLogStorage
from psycopg import sql

from altus_pipeline import event_templates
from altus_pipeline.instance import apply_event_settings, instance_yaml
from altus_pipeline.instance_storage import CheckOncePerRunEventLogStorage
from altus_pipeline.warehouse.db import Warehouse

FIRST = dt.date(2024, 1, 1)
DAYS = 40
partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST.isoformat(), end_date=(FIRST + dt.timedelta(DAYS)).isoformat()
)


@dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
def ranged(context) -> dg.MaterializeResult:  # noqa: ANN001 (Dagster reads the hint at run time)
    # the last partition carries more, as a raw asset's does: a materialization of another shape
    context.add_asset_metadata({"figures": 3, "seconds": 0.5}, partition_key=context.partition_keys[-1])
    return dg.MaterializeResult(metadata={"partitions": len(context.partition_keys)})


@dg.asset
def plain() -> dg.MaterializeResult:
    return dg.MaterializeResult()


@pytest.fixture
def schema() -> str:
    return f"dagster_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def instance(pg_url: str, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", Warehouse(pg_url, "unused").dagster_storage_url(schema))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "16")  # several batches, the last one partial
    apply_event_settings()
    (tmp_path / "dagster.yaml").write_text(instance_yaml())
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_a_ranged_run_stores_one_materialization_per_partition_in_order(instance: dg.DagsterInstance) -> None:
    _ranged_run(instance)
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


def _ranged_run(instance: dg.DagsterInstance) -> None:
    last = FIRST + dt.timedelta(DAYS - 1)
    result = dg.materialize(
        [ranged],
        instance=instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: FIRST.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()},
    )
    assert result.success


_ROW = ("run_id", "event", "dagster_event_type", "timestamp", "step_key", "asset_key", "partition")


def _dagster_rows(storage: CheckOncePerRunEventLogStorage, events: list[EventLogEntry]) -> list[tuple]:
    """The rows Dagster's own storage would write for ``events``."""
    return [tuple(storage._event_to_row(event)[column] for column in _ROW) for event in events]


def _query(pg_url: str, schema: str, query: str | sql.Composable, *params: object) -> list[tuple]:
    """The rows of ``query`` on the Dagster storage in ``schema``."""
    with psycopg.connect(pg_url) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        return conn.execute(query, params).fetchall()


def _stored_rows(pg_url: str, schema: str, after: int = 0) -> list[tuple]:
    """The materialization rows stored after event id ``after``, in the order they were stored."""
    query = sql.SQL(
        "SELECT {} FROM event_logs WHERE id > %s AND dagster_event_type = 'ASSET_MATERIALIZATION' ORDER BY id"
    ).format(sql.SQL(", ").join(map(sql.Identifier, _ROW)))
    return _query(pg_url, schema, query, after)


def test_each_shape_of_materialization_is_serialized_once_into_dagsters_own_rows(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, pg_url: str, schema: str
) -> None:
    batches: list[list[EventLogEntry]] = []
    serialized: list[EventLogEntry] = []
    batch_rows, serialize = CheckOncePerRunEventLogStorage.batch_rows, sql_event_log.serialize_value

    def capture(self, events):  # noqa: ANN001, ANN202
        batches.append(list(events))
        return batch_rows(self, events)

    def counted(value, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        serialized.append(value)
        return serialize(value, *args, **kwargs)

    monkeypatch.setattr(CheckOncePerRunEventLogStorage, "batch_rows", capture)
    monkeypatch.setattr(sql_event_log, "serialize_value", counted)
    _ranged_run(instance)
    monkeypatch.undo()

    materialized = DagsterEventType.ASSET_MATERIALIZATION
    assert [len(b) for b in batches] == [16, 16, 8]  # DAGSTER_EVENT_BATCH_SIZE, the last batch partial
    # Dagster serialized the first materialization of each batch and the last partition's (another shape)
    materializations = [e for e in serialized if isinstance(e, EventLogEntry) and e.dagster_event_type == materialized]
    assert len(materializations) == len(batches) + 1
    # in each batch, every partition after the first is sent as its values for the template
    storage = instance.event_log_storage
    sent = [[("template" in row) for row in storage.batch_rows(events)[0]] for events in batches]
    assert sent == [[False] + [True] * 15, [False] + [True] * 15, [False] + [True] * 6 + [False]]
    stored = _stored_rows(pg_url, schema)
    assert stored == _dagster_rows(storage, [event for events in batches for event in events])


def test_a_value_that_only_equals_the_templates_is_serialized_on_its_own(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, pg_url: str, schema: str
) -> None:
    """``1 == 1.0``, and an int metadata value equals a float one: equal is not the same text.
    A partition that JSON escapes is filled in as Dagster writes it, escaped."""
    _ranged_run(instance)
    first = instance.fetch_materializations(dg.AssetKey("ranged"), limit=1, ascending=True).records[0]
    event = first.event_log_entry
    data = event.dagster_event.event_specific_data

    def variant(partition: str, timestamp: float, value: dg.MetadataValue, version: str = "1") -> EventLogEntry:
        tags = {**data.materialization.tags, DATA_VERSION_TAG: version}
        materialization = data.materialization._replace(partition=partition, metadata={"n": value}, tags=tags)
        specific = data._replace(materialization=materialization)
        return event._replace(
            timestamp=timestamp, dagster_event=event.dagster_event._replace(event_specific_data=specific)
        )

    events = [
        variant("2024-01-01", 1.5, dg.MetadataValue.int(1)),
        variant("2024-01-02", 2.5, dg.MetadataValue.int(1)),
        variant('quoted "day" \\ é', 2.75, dg.MetadataValue.int(1)),
        variant("2024-01-03", 3.5, dg.MetadataValue.float(1.0)),
        variant("2024-01-04", 4.5, dg.MetadataValue.float(-0.0), version="2"),
        variant("2024-01-05", 5.5, dg.MetadataValue.float(0.0)),
    ]
    storage = instance.event_log_storage
    templates: list[EventLogEntry] = []
    serialize = event_templates.serialize_value

    def counted(value, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        templates.append(value)
        return serialize(value, *args, **kwargs)

    monkeypatch.setattr(event_templates, "serialize_value", counted)
    ((before,),) = _query(pg_url, schema, "SELECT max(id) FROM event_logs")
    storage.store_event_batch(events)
    assert _stored_rows(pg_url, schema, before) == _dagster_rows(storage, events)
    versions = _query(
        pg_url,
        schema,
        "SELECT value FROM asset_event_tags WHERE event_id > %s AND key = %s ORDER BY event_id",
        before,
        DATA_VERSION_TAG,
    )
    assert versions == [("1",), ("1",), ("1",), ("1",), ("2",), ("1",)]  # each event's own, two sets in one batch
    assert len(templates) == 1  # the first three alike; no template for an event unlike the one before
    assert [("template" in row) for row in storage.batch_rows(events)[0]] == [False, True, True, False, False, False]


def test_each_materializations_tags_are_stored_against_its_own_event(
    instance: dg.DagsterInstance, pg_url: str, schema: str
) -> None:
    """A ranged run's, stored in batches, and an unpartitioned asset's, stored on its own."""
    _ranged_run(instance)
    assert dg.materialize([plain], instance=instance).success
    ((tagged, events, matching),) = _query(
        pg_url,
        schema,
        "SELECT count(*), count(DISTINCT e.id),"
        " count(*) FILTER (WHERE t.asset_key = e.asset_key AND t.event_timestamp = e.timestamp"
        "   AND position(t.value IN e.event) > 0)"
        " FROM asset_event_tags t JOIN event_logs e ON e.id = t.event_id"
        " WHERE t.key = 'dagster/data_version'",
    )
    assert tagged == events == matching == DAYS + 1


def test_a_batch_and_its_tags_are_one_statement_and_the_assets_latest_another(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    execute = sqlalchemy.engine.Connection.execute

    def counted(self, statement, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        statements.append(str(statement).split()[0])
        return execute(self, statement, *args, **kwargs)

    _ranged_run(instance)
    latest = instance.fetch_materializations(dg.AssetKey("ranged"), limit=1).records[0].event_log_entry
    later = [latest._replace(timestamp=latest.timestamp + n) for n in (1, 2, 3)]
    monkeypatch.setattr(sqlalchemy.engine.Connection, "execute", counted)
    instance.event_log_storage.store_event_batch(later)
    assert statements == ["WITH", "INSERT"]  # events with their tags, then the asset's row


def test_a_storage_without_the_tags_table_stores_a_batch_as_dagster_does(
    instance: dg.DagsterInstance, pg_url: str, schema: str
) -> None:
    """A storage not yet migrated to Dagster's tags table still records the batch, without tags."""
    _ranged_run(instance)
    events = [r.event_log_entry for r in instance.fetch_materializations(dg.AssetKey("ranged"), limit=3).records]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, "asset_event_tags")))
    ((before,),) = _query(pg_url, schema, "SELECT max(id) FROM event_logs")
    storage = CheckOncePerRunEventLogStorage(instance.event_log_storage.postgres_url)  # asks for its tables anew
    storage.store_event_batch(events)
    assert _stored_rows(pg_url, schema, before) == _dagster_rows(storage, events)


def test_no_event_is_notified_no_webserver_of_this_version_listens(
    instance: dg.DagsterInstance, pg_url: str, schema: str
) -> None:
    """dagster-postgres sent a ``NOTIFY`` after each event for webservers that listened; 1.13's poll."""
    with psycopg.connect(pg_url, autocommit=True) as listener:
        listener.execute("LISTEN run_events")
        _ranged_run(instance)
        assert dg.materialize([plain], instance=instance).success
        heard = list(listener.notifies(timeout=0.5, stop_after=1))
    assert heard == []
    ((events,),) = _query(pg_url, schema, "SELECT count(*) FROM event_logs")
    assert events > DAYS  # the runs' events were stored all the same


def test_a_table_found_is_not_looked_up_again_a_missing_one_is(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    has_table = PostgresEventLogStorage.has_table

    def counted(self, table_name):  # noqa: ANN001, ANN202
        looked_up.append(table_name)
        return has_table(self, table_name)

    monkeypatch.setattr(PostgresEventLogStorage, "has_table", counted)
    storage = instance.event_log_storage
    assert [storage.has_table("asset_event_tags") for _ in range(3)] == [True] * 3
    assert storage.supports_asset_checks and storage.supports_asset_checks
    assert [storage.has_table("no_such_table") for _ in range(2)] == [False] * 2
    assert looked_up == ["asset_event_tags", "asset_check_executions", "no_such_table", "no_such_table"]


def test_a_run_reuses_the_storages_connections(instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster reads and updates a run's record dozens of times: a connection each, unless held."""
    opened: list[str] = []
    connect = psycopg2.connect

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        opened.append("connection")
        return connect(*args, **kwargs)

    _ranged_run(instance)  # the first run opens the held connections
    monkeypatch.setattr(psycopg2, "connect", counted)
    _ranged_run(instance)
    assert len(opened) <= 2, len(opened)
