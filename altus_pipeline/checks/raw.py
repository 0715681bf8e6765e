"""Checks on every raw table: keys sound, and live rows equal what DoorLoop last listed.

They are separate asset checks rather than check specs of the assets: on a partitioned
asset a spec is planned and recorded once per partition of a ranged run, which for a
multi-year backfill costs Dagster thousands of events; a separate check runs once (in the
one step that evaluates all of the asset's checks, ``checks/steps.py``).
"""

from __future__ import annotations

import dagster as dg
from psycopg import sql

from altus_pipeline.checks.steps import Check, check
from altus_pipeline.doorloop.registry import ENTITIES, Entity
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.warehouse.constraints import enforced

_LAST_LISTING = """
SELECT partition_key, api_total - rejected - duplicates, api_total
FROM doorloop_pipeline_audit WHERE asset_key = %s ORDER BY id DESC LIMIT 1
"""


def _scope(partition_key: str | None) -> tuple[sql.Composable, dict[str, str]]:
    """SQL restricting rows to the business dates of an audit row's partition key."""
    if partition_key is None:
        return sql.SQL(""), {}
    first, _, last = partition_key.partition("...")
    return sql.SQL("AND business_date BETWEEN %(start)s AND %(end)s"), {"start": first, "end": last or first}


def build_raw_checks(entity: Entity) -> list[Check]:
    table = sql.Identifier(entity.raw_table)

    @check(
        asset=entity.raw_table,
        name="ids_unique_non_null",
        blocking=True,
        description="Every raw row has a non-empty DoorLoop id, and ids are unique.",
    )
    def ids_unique_non_null(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        # While ``id`` is the primary key PostgreSQL keeps it unique and non-null: an empty id is
        # one probe of its index, and no scan of the table (let alone a sort, to count distinct
        # ids) is needed until it is not.
        with warehouse.warehouse().connect() as conn:
            keyed = enforced(conn, entity.raw_table).primary_key == ("id",)
            query = (
                "SELECT count(*), 0 FROM {t} WHERE id = ''"
                if keyed
                else "SELECT count(*) FILTER (WHERE id IS NULL OR id = ''), count(*) - count(DISTINCT id) FROM {t}"
            )
            bad, dupes = conn.execute(sql.SQL(query).format(t=table)).fetchone()
        return dg.AssetCheckResult(
            passed=bad == 0 and dupes == 0, metadata={"null_or_empty_ids": bad, "duplicate_ids": dupes}
        )

    @check(
        asset=entity.raw_table,
        name="rows_match_api_total",
        description="Live rows in the last listing's scope equal DoorLoop's total, less rejected and duplicate records.",
    )
    def rows_match_api_total(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            last = conn.execute(_LAST_LISTING, (entity.raw_table,)).fetchone()
            if last is None:
                return dg.AssetCheckResult(passed=False, metadata={"reason": "no listing recorded yet"})
            partition_key, expected, total = last
            scope, bounds = _scope(partition_key)
            live = conn.execute(
                sql.SQL("SELECT count(*) FROM {t} WHERE deleted_at IS NULL {scope}").format(t=table, scope=scope),
                bounds,
            ).fetchone()[0]
        return dg.AssetCheckResult(
            passed=live == expected,
            metadata={"live_rows": live, "expected": expected, "api_total": total, "scope": partition_key or "all"},
        )

    return [ids_unique_non_null, rows_match_api_total]


raw_checks: list[Check] = [c for e in ENTITIES.values() for c in build_raw_checks(e)]
