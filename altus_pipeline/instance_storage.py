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
from dagster._core.events import DagsterEventType
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
# A batch's rows: Dagster's whole row, or a template's number with the values for its marks.
_BATCH = sqlalchemy.text(
    f"""
    SELECT COALESCE(b.run_id, t.run_id) AS run_id,
           COALESCE(b.event, replace(replace(t.event, :stamp_mark, b.stamp), :partition_mark,
                                     COALESCE(b.escaped, b.partition))) AS event,
           COALESCE(b.dagster_event_type, t.dagster_event_type) AS dagster_event_type,
           b."timestamp", COALESCE(b.step_key, t.step_key) AS step_key,
           COALESCE(b.asset_key, t.asset_key) AS asset_key, b.partition
    FROM ROWS FROM (json_to_recordset(CAST(:rows AS json))
                    AS ({_EVENT_RECORD}, template int, stamp text, escaped text)) WITH ORDINALITY AS b
    LEFT JOIN ROWS FROM (json_to_recordset(CAST(:templates AS json)) AS ({_EVENT_RECORD}))
              WITH ORDINALITY AS t ON t.ordinality = b.template
    ORDER BY b.ordinality
    """
).columns(*(sqlalchemy.column(name) for name in _EVENT_COLUMNS))
_TAG_COLUMNS = ("event_id", "asset_key", "key", "value", "event_timestamp")
# Each tagged event's set of tags, with the asset key and timestamp of its stored row.
_TAGS = sqlalchemy.text(
    """
    SELECT e.id AS event_id, e.asset_key, s.key, s.value, e."timestamp" AS event_timestamp
    FROM json_to_recordset(CAST(:events AS json)) AS r(id bigint, tags int)
    JOIN event_logs e ON e.id = r.id
    JOIN json_to_recordset(CAST(:tags AS json)) AS s(tags int, key text, value text) ON s.tags = r.tags
    """
).columns(*(sqlalchemy.column(name) for name in _TAG_COLUMNS))


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

    def prepare_insert_event_batch(self, events: Sequence[EventLogEntry]) -> Any:
        """The batch as one ``INSERT … SELECT`` from two JSON arrays bound as parameters.

        Dagster builds a multi-row ``VALUES`` statement, which SQLAlchemy compiles anew for
        every batch, one bind parameter per cell: a reconcile run's materializations (one per
        partition and asset) spent more time compiling than storing. A partition's
        materialization of a shape seen before is sent as its partition and timestamp, and
        PostgreSQL fills them into the shape's template (``event_templates``): the text
        Dagster would write, without encoding and parsing 2 kB of JSON per partition twice.
        Rows are inserted in the array's order, as the caller pairs the returned ids with
        its events.
        """
        rows, templates = self.batch_rows(events)
        return SqlEventLogStorageTable.insert().from_select(
            list(_EVENT_COLUMNS),
            _BATCH.bindparams(
                rows=json.dumps(rows),
                templates=json.dumps(templates),
                partition_mark=PARTITION_MARK,
                stamp_mark=TIMESTAMP_TEXT,
            ),
        )

    def batch_rows(self, events: Sequence[EventLogEntry]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Each event's row, and the templates its rows refer to.

        An event serialized by Dagster (``_event_to_row``) is its whole row, the timestamp as
        ISO text; one of a template's shape is the template's number, its partition and its
        timestamp. A template is Dagster's row of the event it was made from, its text marked.
        """
        rows: list[dict[str, Any]] = []
        templates: list[dict[str, Any]] = []
        template: Template | None = None
        alone: tuple[EventLogEntry, dict[str, Any]] | None = None  # the last event Dagster serialized
        for event in events:
            filling = template.values_of(event) if template else None
            if filling is None and alone is not None and alike(alone[0], event):
                template, alone = Template.of(*alone), None
                if template is not None:
                    templates.append({**template.row, "event": template.text, "timestamp": None, "partition": None})
                filling = template.values_of(event) if template else None
            if filling is None:
                alone = (event, self._event_to_row(event))
                row = alone[1]
            else:
                row = {"template": len(templates), "partition": filling.partition, "stamp": filling.stamp}
                if filling.escaped != filling.partition:
                    row["escaped"] = filling.escaped
            rows.append({**row, "timestamp": self._event_insert_timestamp(event).isoformat()})
        return rows, templates

    def _store_asset_event_tags(self, conn, events: Sequence[EventLogEntry], event_ids: Sequence[int]) -> None:
        """The indexed tags of asset events (a data version per partition of a ranged run),
        inserted from the events' stored rows in one statement.

        Dagster sends them as a many-row insert that SQLAlchemy binds row by row, each with
        the asset key and timestamp the event's row already holds. Here each event is its id
        and the number of its set of tags: a ranged run's partitions share one set.
        """
        sets: dict[tuple[tuple[str, str], ...], int] = {}
        tagged = []
        for event_id, event in zip(event_ids, events, strict=True):
            tags = tuple(self._tags_for_asset_event(event).items())
            if tags:
                tagged.append({"id": event_id, "tags": sets.setdefault(tags, len(sets) + 1)})
        if not tagged or not self.has_table(AssetEventTagsTable.name):
            return
        tag_rows = [{"tags": n, "key": key, "value": value} for tags, n in sets.items() for key, value in tags]
        conn.execute(
            AssetEventTagsTable.insert().from_select(
                list(_TAG_COLUMNS), _TAGS.bindparams(events=json.dumps(tagged), tags=json.dumps(tag_rows))
            )
        )

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
