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
from altus_pipeline.event_templates import Template, alike

STORAGE_URL_ENV = "ALTUS_DAGSTER_STORAGE_URL"
_EVENT_COLUMNS = ("run_id", "event", "dagster_event_type", "timestamp", "step_key", "asset_key", "partition")
_EVENT_RECORD = ", ".join(f'"{name}" {"timestamp" if name == "timestamp" else "text"}' for name in _EVENT_COLUMNS)
_TAG_COLUMNS = ("event_id", "asset_key", "key", "value", "event_timestamp")
_TAG_RECORD = "event_id bigint, asset_key text, key text, value text, event_timestamp timestamp"


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
        """The batch as one ``INSERT … SELECT`` from a JSON array bound as a single parameter.

        Dagster builds a multi-row ``VALUES`` statement, which SQLAlchemy compiles anew for
        every batch, one bind parameter per cell: a reconcile run's materializations (one per
        partition and asset) spent more time compiling than storing. Rows come back in the
        array's order, as the caller pairs the returned ids with its events.
        """
        records = sqlalchemy.select(*(sqlalchemy.column(name) for name in _EVENT_COLUMNS)).select_from(
            sqlalchemy.text(f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS batch({_EVENT_RECORD})").bindparams(
                rows=json.dumps(self.batch_rows(events))
            )
        )
        return SqlEventLogStorageTable.insert().from_select(list(_EVENT_COLUMNS), records)

    def batch_rows(self, events: Sequence[EventLogEntry]) -> list[dict[str, Any]]:
        """Dagster's row of each event (``_event_to_row``), the timestamp as ISO text for JSON.

        A partition's materialization of the same shape as the one before it is not serialized
        again: its text is that one's with the partition and timestamp filled in
        (``event_templates``), the same text Dagster would write.
        """
        rows = []
        template: Template | None = None
        alone: tuple[EventLogEntry, dict[str, Any]] | None = None  # the last event Dagster serialized
        for event in events:
            timestamp = self._event_insert_timestamp(event)
            row = template.row_of(event, timestamp) if template else None
            if row is None and alone is not None and alike(alone[0], event):
                template, alone = Template.of(*alone), None
                row = template.row_of(event, timestamp) if template else None
            if row is None:
                row = self._event_to_row(event)
                alone = (event, row)
            rows.append({**row, "timestamp": row["timestamp"].isoformat()})
        return rows

    def _store_asset_event_tags(self, conn, events: Sequence[EventLogEntry], event_ids: Sequence[int]) -> None:
        """The indexed tags of a batch's asset events (a data version per partition of a ranged
        run) as one ``INSERT … SELECT`` from a bound JSON array, as the events are.

        Dagster sends them as a many-row insert that SQLAlchemy binds row by row.
        """
        rows = [
            {
                "event_id": event_id,
                "asset_key": event.get_dagster_event().asset_key.to_string(),
                "key": key,
                "value": value,
                "event_timestamp": self._event_insert_timestamp(event).isoformat(),
            }
            for event_id, event in zip(event_ids, events, strict=True)
            for key, value in self._tags_for_asset_event(event).items()
        ]
        if not rows or not self.has_table(AssetEventTagsTable.name):
            return
        records = sqlalchemy.select(*(sqlalchemy.column(name) for name in _TAG_COLUMNS)).select_from(
            sqlalchemy.text(f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS tags({_TAG_RECORD})").bindparams(
                rows=json.dumps(rows)
            )
        )
        conn.execute(AssetEventTagsTable.insert().from_select(list(_TAG_COLUMNS), records))

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
