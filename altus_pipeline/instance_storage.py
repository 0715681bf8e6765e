"""Dagster's storage and run logs, found from the project rather than from the environment.

``dagster.yaml`` names these classes instead of a database URL, so every process that
loads the instance (``altus``, ``altus dev``, a hand-started ``dagster-webserver`` or
``dagster-daemon``, ``dagster dev`` from the project root, each run worker) reaches the
same warehouse by the same rule as the CLI: ``ALTUS_DATABASE_URL``, else the embedded
PostgreSQL of the project's home (started if needed). The instance may pin that home
(``altus_home``): a process that would use another one refuses instead of quietly
starting a second embedded server.

Loading the instance also applies the event settings (``instance.EVENT_SETTINGS``), so
a hand-started webserver or daemon plans and records ranged runs as cheaply as ``altus``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import AssetEventTagsTable, AssetKeyTable, SqlEventLogStorageTable
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage

from altus_pipeline import settings
from altus_pipeline.event_templates import PARTITION_MARK, TIMESTAMP_TEXT, Template, alike

STORAGE_URL_ENV = "ALTUS_DAGSTER_STORAGE_URL"
_EVENT_COLUMNS = ("run_id", "event", "dagster_event_type", "timestamp", "step_key", "asset_key", "partition")
_EVENT_RECORD = ", ".join(f'"{name}" {"timestamp" if name == "timestamp" else "text"}' for name in _EVENT_COLUMNS)
_TAG_COLUMNS = ("event_id", "asset_key", "key", "value", "event_timestamp")
# A batch of asset events and their tags in one statement: each row is Dagster's whole row, or
# a template's number with the values for its marks, and the number of its set of tags. Ids are
# taken in the rows' order, so the n-th id stored is the n-th row's.
_BATCH = sqlalchemy.text(
    f"""
    WITH b AS (
        SELECT * FROM ROWS FROM (json_to_recordset(CAST(:rows AS json))
                                 AS ({_EVENT_RECORD}, template int, stamp text, escaped text, tags int))
                      WITH ORDINALITY
    ), stored AS (
        INSERT INTO event_logs ({", ".join(f'"{name}"' for name in _EVENT_COLUMNS)})
        SELECT COALESCE(b.run_id, t.run_id),
               COALESCE(b.event, replace(replace(t.event, :stamp_mark, b.stamp), :partition_mark,
                                         COALESCE(b.escaped, b.partition))),
               COALESCE(b.dagster_event_type, t.dagster_event_type), b."timestamp",
               COALESCE(b.step_key, t.step_key), COALESCE(b.asset_key, t.asset_key), b.partition
        FROM b LEFT JOIN ROWS FROM (json_to_recordset(CAST(:templates AS json)) AS ({_EVENT_RECORD}))
                         WITH ORDINALITY AS t ON t.ordinality = b.template
        ORDER BY b.ordinality
        RETURNING id, asset_key, "timestamp"
    ), numbered AS (
        SELECT id, asset_key, "timestamp", row_number() OVER (ORDER BY id) AS ordinality FROM stored
    ), tagged AS (
        INSERT INTO asset_event_tags ({", ".join(f'"{name}"' for name in _TAG_COLUMNS)})
        SELECT e.id, e.asset_key, s.key, s.value, e."timestamp"
        FROM numbered e JOIN b USING (ordinality)
        JOIN json_to_recordset(CAST(:tags AS json)) AS s(tags int, key text, value text) ON s.tags = b.tags
    )
    SELECT max(id) FROM stored
    """
)


class CheckOncePerRunEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres' event log, recording each asset check once per run.

    Dagster 1.13 plans every check of a partition-range run once per partition of the
    range, partitioned check or not (``DagsterRun.get_resolved_partitions_subset_for_events``
    hands the run's own subset to a check without ``partitions_def``): one
    ``asset_check_executions`` row per day and check, each holding the serialized event,
    never completed (the unpartitioned evaluation adds a row of its own). A full sync left
    37-62 MB of such rows (``benchmarks/dagster_footprint.py --stock``), a 1900..2100 KPI
    run 581 MB, in a database Supabase's free tier caps at 500 MB. No Altus check is partitioned (a test holds the Definitions to that),
    so a planned check is stored as the single row its evaluation then completes; the
    event log keeps the planned event as Dagster wrote it.
    """

    def __init__(
        self, postgres_url: str, should_autocreate_tables: bool = True, inst_data: ConfigurableClassData | None = None
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data)
        # dagster-postgres opens a connection per call (NullPool): a ranged run stores its
        # events in hundreds of calls, each paying a connection start-up on both sides. One
        # held connection (as the webserver's), no statement timeout; concurrent callers (the
        # daemon's threads) get overflow connections closed after use, as before. Run workers
        # and the multiprocess executor start new processes, never fork a held connection.
        self.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=20)
        self._asset_key_columns: frozenset[str] | None = None
        self._tables: set[str] = set()

    def _has_asset_key_col_on_connection(self, conn, column_name: str) -> bool:
        """Dagster reflects the ``asset_keys`` columns on every stored asset event; they only
        change when ``dagster instance migrate`` runs, in another process."""
        if self._asset_key_columns is None:
            self._asset_key_columns = frozenset(
                c["name"] for c in sqlalchemy.inspect(conn).get_columns(AssetKeyTable.name)
            )
        return column_name in self._asset_key_columns

    def store_event(self, event: EventLogEntry) -> None:
        """An event as dagster-postgres stores it, without the ``NOTIFY`` it sends after each.

        dagster-postgres 0.29 keeps the notification for webservers older than its own, which
        listened for it; a 1.13 webserver polls instead (``SqlPollingEventWatcher``). It was one
        statement of three per event, about 400 of them in a full sync.
        """
        with self._connect() as conn:
            insert = self.prepare_insert_event(event).returning(SqlEventLogStorageTable.c.id)
            event_id = conn.execute(insert).scalar_one()
        dagster_event = event.dagster_event
        if dagster_event is not None and dagster_event.event_type in ASSET_EVENTS and dagster_event.asset_key:
            with self.index_transaction() as conn:
                self._store_asset_event_tags(conn, [event], [event_id])
                self._store_asset_event(conn, event, event_id)
        if dagster_event is not None and dagster_event.event_type in ASSET_CHECK_EVENTS:
            self.store_asset_check_event(event, event_id)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """A batch of asset events with their tags in one statement, then the asset's latest.

        A ranged run records a materialization per partition and asset, in batches. Dagster
        builds a multi-row ``VALUES`` statement, which SQLAlchemy compiles anew for every
        batch, one bind parameter per cell, then inserts the tags the same way in a second
        transaction: a reconcile run's materializations spent more time compiling than
        storing. Here a partition's materialization of a shape seen before is sent as its
        partition and timestamp, and PostgreSQL fills them into the shape's template
        (``event_templates``): the text Dagster would write, without encoding and parsing
        2 kB of JSON per partition twice. Its tags are the template's too (the shape includes
        them). Other batches, or a storage without the tags table, are stored as
        dagster-postgres stores them.
        """
        kinds = {event.get_dagster_event().event_type for event in events}
        asset_events = kinds in ({DagsterEventType.ASSET_MATERIALIZATION}, {DagsterEventType.ASSET_OBSERVATION})
        if not asset_events or not self.has_table(AssetEventTagsTable.name):  # a storage not yet migrated
            super().store_event_batch(events)
            return
        rows, templates, tags = self.batch_rows(events)
        with self.index_transaction() as conn:
            statement = _BATCH.bindparams(
                rows=json.dumps(rows),
                templates=json.dumps(templates),
                tags=json.dumps(tags),
                partition_mark=PARTITION_MARK,
                stamp_mark=TIMESTAMP_TEXT,
            )
            last = conn.execute(statement).scalar_one()
            self._store_asset_event(conn, events[-1], last)

    def batch_rows(
        self, events: Sequence[EventLogEntry]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Each event's row, the templates its rows refer to, and the sets of tags they number.

        An event serialized by Dagster (``_event_to_row``) is its whole row, the timestamp as
        ISO text, and the number of its set of indexed tags; one of a template's shape is the
        template's number, its partition and timestamp, and the template's set of tags. A
        template is Dagster's row of the event it was made from, its text marked.
        """
        rows: list[dict[str, Any]] = []
        templates: list[dict[str, Any]] = []
        sets: dict[tuple[tuple[str, str], ...], int] = {}
        template: Template | None = None
        template_tags: int | None = None
        alone: tuple[EventLogEntry, dict[str, Any], int | None] | None = None  # the last event Dagster serialized
        for event in events:
            filling = template.values_of(event) if template else None
            if filling is None and alone is not None and alike(alone[0], event):
                (made_from, row, template_tags), alone = alone, None
                template = Template.of(made_from, row)
                if template is not None:
                    templates.append({**template.row, "event": template.text, "timestamp": None, "partition": None})
                filling = template.values_of(event) if template else None
            if filling is None:
                row = self._event_to_row(event)  # kept as Dagster's for a template made from it
                tagged = tuple(self._tags_for_asset_event(event).items())
                tags = sets.setdefault(tagged, len(sets) + 1) if tagged else None
                alone = (event, row, tags)
                row = {**row, "tags": tags}
            else:
                row = {
                    "template": len(templates),
                    "partition": filling.partition,
                    "stamp": filling.stamp,
                    "tags": template_tags,
                }
                if filling.escaped != filling.partition:
                    row["escaped"] = filling.escaped
            rows.append({**row, "timestamp": self._event_insert_timestamp(event).isoformat()})
        tag_rows = [{"tags": n, "key": key, "value": value} for tags, n in sets.items() for key, value in tags]
        return rows, templates, tag_rows

    def has_table(self, table_name: str) -> bool:
        """Whether a table of Dagster's storage exists, a yes remembered.

        Dagster asks the catalog before many writes (each batch of tags, each asset check
        event, each pool claim); a table it has created stays until its storage is wiped by
        hand. A no is asked again, as ``dagster instance migrate`` may add the table.
        """
        if table_name not in self._tables:
            if not super().has_table(table_name):
                return False
            self._tables.add(table_name)
        return True

    def store_asset_check_event(self, event: EventLogEntry, event_id: int | None) -> None:
        dagster_event = event.dagster_event
        if dagster_event is not None and dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            planned = dagster_event.event_specific_data
            if planned.partitions_subset is not None:
                once = AssetCheckEvaluationPlanned(asset_key=planned.asset_key, check_name=planned.check_name)
                event = event._replace(dagster_event=dagster_event._replace(event_specific_data=once))
        super().store_asset_check_event(event, event_id)


class WarehouseStorage(DagsterPostgresStorage):
    """dagster-postgres storage in the warehouse database, schema ``dagster``.

    ``ALTUS_DAGSTER_STORAGE_URL`` (a SQLAlchemy ``postgresql+psycopg2://`` URL) puts
    Dagster's tables elsewhere; tests and benchmarks use it for a storage of their own.
    Its event log is ``CheckOncePerRunEventLogStorage``; its run storage holds a connection
    as the event log does (a run reads and updates its run record some fifty times, each
    call a new connection otherwise).
    """

    def __init__(self, postgres_url: str, inst_data: ConfigurableClassData | None = None) -> None:
        # dagster-postgres builds its own event log first (one more look at the tables when
        # the instance loads); replacing it keeps the rest of its constructor as it is.
        super().__init__(postgres_url=postgres_url, inst_data=inst_data)
        self._event_log_storage = CheckOncePerRunEventLogStorage(postgres_url)
        self._run_storage.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=20)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"altus_home": dg.Field(str, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> WarehouseStorage:
        from altus_pipeline.instance import apply_event_settings
        from altus_pipeline.warehouse.db import Warehouse

        apply_event_settings()
        pinned = config_value.get("altus_home")
        if pinned:
            settings.require_home(Path(pinned), "the Dagster instance in " + os.environ.get("DAGSTER_HOME", "?"))
        url = os.environ.get(STORAGE_URL_ENV) or Warehouse.from_env().dagster_storage_url()
        return cls(postgres_url=url, inst_data=inst_data)


class ProjectComputeLogManager(LocalComputeLogManager):
    """Run logs under the project's home (``<home>/dagster/logs``), whatever ``DAGSTER_HOME`` is.

    ``dagster dev`` without ``DAGSTER_HOME`` runs on a temporary home it deletes on exit;
    the logs of runs it launched stay readable from ``altus dev`` afterwards.
    """

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": dg.Field(str, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> ProjectComputeLogManager:
        base_dir = config_value.get("base_dir") or str(settings.project_home() / "dagster" / "logs")
        return cls(base_dir=base_dir, inst_data=inst_data)
