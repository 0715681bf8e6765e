"""Normalized assets: one per normalized table of the spec, with its junction and line tables.

A table and its children are written by one set-based step (``Normalizer``), so they
are one multi-asset whose keys are the table names. Each depends on the raw table it
reads and on the normalized tables its foreign keys point at, so one run materializes
parents before children.
"""

from datetime import UTC, datetime

import dagster as dg

from altus_pipeline.audit import record_audit
from altus_pipeline.normalized.ddl import _SQL_TYPES
from altus_pipeline.normalized.spec import TABLES, Table
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.raw.load import LoadResult
from altus_pipeline.resources import WarehouseResource

NORMALIZED_GROUP = "normalized"


def _columns(names_types: list[tuple[str, str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(n, t, description=d) for n, t, d in names_types])


def _schema(table: Table, child=None) -> dg.TableSchema:
    if child is None:
        cols = [("id", "uuid", "uuid5 of the entity and DoorLoop id"), ("doorloop_id", "text", "DoorLoop id (unique)")]
        cols += [(c.name, _SQL_TYPES[c.kind], f"from {c.source}") for c in table.columns]
        return _columns(cols)
    cols = [(child.parent_column, "uuid", f"the {table.name} row")]
    cols += [(child.role, "text", f"the array the row comes from: {', '.join(child.arrays)}")] if child.role else []
    cols += [("line_number", "integer", "position in the array, from 1")] if child.lines else []
    cols += [(c.name, _SQL_TYPES[c.kind], f"from {child.source}[].{c.source}") for c in child.columns]
    return _columns(cols)


def _audit(conn, run_id: str, started: datetime, table: Table, result) -> None:
    for name in table.objects:
        counts = result.objects[name]
        main = name == table.name
        record_audit(
            conn,
            run_id,
            name,
            None,
            started,
            LoadResult(
                rows_listed=result.candidates if main else 0,
                inserted=counts.inserted,
                updated=counts.updated,
                unchanged=result.metadata(name)["unchanged"] if main else 0,
                soft_deleted=counts.deleted,
                rejected=result.rejected if main else 0,
                rows_in_table=counts.rows_in_table,
            ),
        )


def build_normalized_asset(table: Table) -> dg.AssetsDefinition:
    deps = [dg.AssetKey(table.raw_table), *(dg.AssetKey(r) for r in table.requires())]
    specs = [
        dg.AssetSpec(
            table.name,
            group_name=NORMALIZED_GROUP,
            kinds={"postgres"},
            deps=deps,
            description=table.description,
            metadata={"dagster/table_name": table.name, "dagster/column_schema": _schema(table)},
        ),
        *(
            dg.AssetSpec(
                ch.name,
                group_name=NORMALIZED_GROUP,
                kinds={"postgres"},
                deps=deps,
                description=ch.description,
                metadata={"dagster/table_name": ch.name, "dagster/column_schema": _schema(table, ch)},
            )
            for ch in table.children
        ),
    ]

    @dg.multi_asset(name=table.name, specs=specs)
    def _normalize(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        started = datetime.now(UTC)
        with warehouse.warehouse().connect() as conn:
            result = Normalizer(conn, table, context.run_id).run()
            _audit(conn, context.run_id, started, table, result)
            conn.commit()
        context.log.info(f"{table.name}: {result.metadata(table.name)}")
        for name in table.objects:
            yield dg.MaterializeResult(asset_key=name, metadata=result.metadata(name))

    return _normalize


normalized_assets: list[dg.AssetsDefinition] = [build_normalized_asset(t) for t in TABLES.values()]
NORMALIZED_KEYS: list[str] = [name for t in TABLES.values() for name in t.objects]
