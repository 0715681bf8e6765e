"""Raw assets, one per registry entity, built by one factory.

Master data is read newest-changed first down to the last run's high-water mark
(``raw/incremental.py``; a full snapshot when the server does not sort as asked);
transactions by business-date partition, and a backfill of any range is one filtered
listing (``BackfillPolicy.single_run()``). A run tagged as a reconcile
(``partitions.UNFILTERED_TAG``: the weekly schedule, ``altus sync`` without dates) reads
master data as full snapshots, which soft-delete what DoorLoop no longer lists, and lists
each transaction entity once without a date filter, so a record that no date partition
lists still reaches raw or the DLQ.
"""

from datetime import UTC, datetime

import dagster as dg
from psycopg import sql

from altus_pipeline.audit import record_audit
from altus_pipeline.dlq.model import Failure
from altus_pipeline.dlq.statements import record_failures, resolve_loaded
from altus_pipeline.doorloop.errors import DoorLoopError
from altus_pipeline.doorloop.registry import DERIVED_ENTITIES, ENTITIES, DerivedEntity, Entity
from altus_pipeline.freshness import RAW_FRESHNESS
from altus_pipeline.partitions import DateRange, full_range, is_reconcile, partition_dates
from altus_pipeline.raw.load import RawLoader
from altus_pipeline.resources import DoorLoopResource, WarehouseResource

RAW_GROUP = "raw"
API_POOL = "doorloop_api"


def _raw_table_schema() -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn("id", "text", description="DoorLoop id (primary key)"),
            dg.TableColumn("payload", "jsonb", description="the record exactly as DoorLoop returned it"),
            dg.TableColumn("content_hash", "text", description="md5 of the payload; unchanged rows are not rewritten"),
            dg.TableColumn("business_date", "date", description="partition date (transactions only)"),
            dg.TableColumn("first_seen_at", "timestamptz"),
            dg.TableColumn("last_changed_at", "timestamptz"),
            dg.TableColumn("deleted_at", "timestamptz", description="set when DoorLoop stopped returning the id"),
            dg.TableColumn("last_run_id", "text"),
        ]
    )


def _extract_failure(entity: Entity, partition_key: str | None, run_id: str, exc: DoorLoopError) -> Failure:
    return Failure.of_raw(
        entity,
        partition_key,
        run_id,
        stage="extract",
        payload=None,
        hash_source=f"{entity.raw_table}|{partition_key}|{type(exc).__name__}",
        error_class="transient" if exc.transient else "permanent",
        field=None,
        message=f"{entity.name}: {exc}",
    )


def _materialize_result(context: dg.AssetExecutionContext, entity: Entity, metadata: dict) -> dg.MaterializeResult:
    """The result with the load's figures once, on the last partition of a ranged run.

    Dagster records one materialization per partition of the range, each with the result's
    metadata: the load's figures describe the whole listing, so repeating them made a
    reconcile store and serialize 1,126 copies per asset for nothing. Every partition keeps
    the table's row count, how it was listed and the range it was loaded in; the last one
    (the asset's latest materialization, and the one ``RunSummary`` keeps) has them all.
    """
    keys = context.partition_keys if entity.partitioned else []
    if len(keys) < 2:
        return dg.MaterializeResult(metadata=metadata)
    context.add_asset_metadata(metadata, partition_key=keys[-1])
    shared = {k: metadata[k] for k in ("dagster/row_count", "listing") if k in metadata}
    return dg.MaterializeResult(metadata={**shared, "loaded_in_range": f"{keys[0]}...{keys[-1]}"})


def build_raw_asset(entity: Entity, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset that mirrors one DoorLoop list endpoint into ``doorloop_raw_<entity>``, by
    ``partitions`` when the entity is read by business date."""
    key = dg.AssetKey(entity.raw_table)
    kind = "transactions by business date" if entity.partitioned else "master data, newest-changed first"

    @dg.asset(
        key=key,
        group_name=RAW_GROUP,
        kinds={"postgres"},
        pool=API_POOL,
        partitions_def=partitions if entity.partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if entity.partitioned else None,
        deps=[ENTITIES[name].raw_table for name in entity.read_after],  # loaded first: its daily read consults them
        freshness_policy=RAW_FRESHNESS,
        description=f"DoorLoop `GET {entity.path}` ({kind}), every record as returned.",
        metadata={"dagster/table_name": entity.raw_table, "dagster/column_schema": _raw_table_schema()},
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource, doorloop: DoorLoopResource):
        wh = warehouse.warehouse()
        reconcile = is_reconcile(context.run.tags)
        unfiltered = entity.partitioned and reconcile
        dates = DateRange(*partition_dates(context)) if entity.partitioned and not unfiltered else None
        partition_key = dates.partition_key if dates else None  # an unfiltered listing belongs to no partition
        started = datetime.now(UTC)
        with doorloop.client(wh) as client, wh.connect() as conn:
            try:
                loader = RawLoader(conn, client, entity, context.run_id)
                span = DateRange(*full_range()) if unfiltered else dates
                result = loader.load(span, filtered=not unfiltered, newest_first=not reconcile)
            except DoorLoopError as exc:
                conn.rollback()
                record_failures(conn, [_extract_failure(entity, partition_key, context.run_id, exc)])
                conn.commit()
                raise dg.Failure(description=f"{entity.name}: {exc}", allow_retries=exc.transient) from None
            record_audit(conn, context.run_id, entity.raw_table, partition_key, started, result)
            resolve_loaded(conn, entity.raw_table, dates, context.run_id)
            conn.commit()
        metadata = {**result.as_metadata(), "dagster/row_count": result.rows_in_table}
        if unfiltered:
            metadata["listing"] = "unfiltered (reconcile)"
        elif reconcile:
            metadata["listing"] = f"{result.listing} (reconcile)"  # "full (reconcile)": master data read whole
        scope = f"{span.partition_key} (unfiltered listing)" if unfiltered else (partition_key or "")
        context.log.info(f"{entity.raw_table} {scope}: {result.as_metadata()}")
        return _materialize_result(context, entity, metadata)

    return _raw


def build_raw_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """One raw asset per registry entity, the transactional ones by ``partitions``."""
    return [build_raw_asset(e, partitions) for e in ENTITIES.values()]


# The raw keys of master data (with the views of derived entities) and those read by date.
MASTER_KEYS = [e.raw_table for e in ENTITIES.values() if not e.partitioned] + [
    d.raw_table for d in DERIVED_ENTITIES.values()
]
TRANSACTION_KEYS = [e.raw_table for e in ENTITIES.values() if e.partitioned]


def build_derived_asset(derived: DerivedEntity) -> dg.AssetsDefinition:
    """The raw view of a derived entity, downstream of its source's raw table."""

    @dg.asset(
        key=derived.raw_table,
        group_name=RAW_GROUP,
        kinds={"postgres"},
        deps=[ENTITIES[derived.source].raw_table],
        description=derived.description,
        metadata={"dagster/table_name": derived.raw_table},
    )
    def _derived(warehouse: WarehouseResource) -> dg.MaterializeResult:
        query = sql.SQL("SELECT count(*) FROM {} WHERE deleted_at IS NULL").format(sql.Identifier(derived.raw_table))
        with warehouse.warehouse().connect() as conn:
            rows = conn.execute(query).fetchone()[0]
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return _derived


derived_raw_assets: list[dg.AssetsDefinition] = [build_derived_asset(d) for d in DERIVED_ENTITIES.values()]
