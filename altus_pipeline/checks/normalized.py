"""Checks on every normalized table: keys, foreign keys, enum domains, reconciliation with raw.

``reconciles_with_raw`` holds the layer's promise that no record silently vanishes:
live raw rows = normalized rows + rows waiting in the DLQ (stage ``normalize``) for that
entity. Key and foreign-key checks are blocking (downstream KPIs join on them).
``references_resolved`` warns (without blocking) while optional references point at
records the warehouse does not hold: the row loaded, its link waits for the target.
Rows marked gone (``gone_at``, kept only while other tables still point at them) count
nowhere: a live row linked to one dangles, and they are not rows of the table.
Key and reference checks first ask which constraints PostgreSQL enforces on the table
(``warehouse/constraints.py``) and count only what those leave possible; a table whose
constraint was dropped is counted in full.
"""

from __future__ import annotations

import dagster as dg
from psycopg import sql

from altus_pipeline.checks.steps import Check, check
from altus_pipeline.dlq.statements import waiting_sql
from altus_pipeline.normalized.spec import GONE, PENDING, TABLES, Child, Column, Table
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.warehouse.constraints import enforced

_GONE = sql.Identifier(GONE)


def _dangling_sql(table: str, column: str, target: str, fk_backed: bool = False) -> sql.Composable:
    """How many (live) rows of ``table`` point with ``column`` at no live row of ``target``.

    ``fk_backed``: a validated foreign key guarantees the target row exists, so only links to
    rows marked gone can dangle; they are counted from the gone rows (an index holds just
    those, usually none) instead of probing the target once for every row of ``table``.
    """
    live = sql.SQL(" AND c.{} IS NULL").format(_GONE) if table in TABLES else sql.SQL("")
    query = (
        "SELECT count(*) FROM {target} p JOIN {table} c ON c.{column} = p.id WHERE p.{gone} IS NOT NULL{live}"
        if fk_backed
        else "SELECT count(*) FROM {table} c WHERE c.{column} IS NOT NULL{live} AND NOT EXISTS "
        "(SELECT 1 FROM {target} p WHERE p.id = c.{column} AND p.{gone} IS NULL)"
    )
    return sql.SQL(query).format(
        table=sql.Identifier(table), live=live, column=sql.Identifier(column), target=sql.Identifier(target), gone=_GONE
    )


def _key_check(asset: str, key: list[str]) -> Check:
    cols = sql.SQL(", ").join(map(sql.Identifier, key))
    nulls = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(k)) for k in key)

    @check(
        asset=asset,
        name="primary_key_unique_non_null",
        blocking=True,
        description=f"({', '.join(key)}) is never NULL and never repeated.",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            # While the key is the table's primary key PostgreSQL keeps it unique and non-null:
            # nothing to count (counting distinct keys sorts the whole table) until it is not.
            keyed = enforced(conn, asset).primary_key == tuple(key)
            null_keys, dupes = (
                (0, 0)
                if keyed
                else conn.execute(
                    sql.SQL(
                        "SELECT count(*) FILTER (WHERE {nulls}), count(*) - count(DISTINCT ({cols})) FROM {asset}"
                    ).format(nulls=nulls, cols=cols, asset=sql.Identifier(asset))
                ).fetchone()
            )
        return dg.AssetCheckResult(
            passed=null_keys == 0 and dupes == 0,
            metadata={"null_keys": null_keys, "duplicate_keys": dupes, "enforced_by_primary_key": keyed},
        )

    return _check


def _fk_check(asset: str, refs: list[tuple[str, str]]) -> Check:
    @check(
        asset=asset,
        name="no_dangling_foreign_keys",
        blocking=True,
        description="Every reference points at an existing, live row: " + ", ".join(f"{c} → {t}" for c, t in refs),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            keys = enforced(conn, asset).references
            counts = sql.SQL(", ").join(
                sql.SQL("({})").format(_dangling_sql(asset, c, t, fk_backed=(c, t) in keys)) for c, t in refs
            )
            dangling = conn.execute(sql.SQL("SELECT {}").format(counts)).fetchone()
        return dg.AssetCheckResult(
            passed=not any(dangling), metadata={f"dangling_{c}": n for (c, _), n in zip(refs, dangling, strict=True)}
        )

    return _check


def _enum_check(asset: str, enums: list[Column]) -> Check:
    @check(
        asset=asset,
        name="enum_domains",
        description="Enum columns hold only their domain: " + ", ".join(c.name for c in enums),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outside = sql.SQL(", ").join(
            sql.SQL("count(*) FILTER (WHERE {} NOT IN ({}))").format(
                sql.Identifier(c.name), sql.SQL(", ").join(map(sql.Literal, c.domain))
            )
            for c in enums
        )
        with warehouse.warehouse().connect() as conn:
            counts = conn.execute(sql.SQL("SELECT {} FROM {}").format(outside, sql.Identifier(asset))).fetchone()
        return dg.AssetCheckResult(
            passed=not any(counts),
            metadata={f"outside_{c.name}": n for c, n in zip(enums, counts, strict=True)},
        )

    return _check


def reconciliation_sql(t: Table) -> sql.Composable:
    """Live raw rows, live normalized rows and records waiting in the DLQ (spec constants inlined: no parameters)."""
    live = sql.SQL("r.deleted_at IS NULL" + (f" AND {t.where}" if t.where else ""))
    return sql.SQL(
        "SELECT (SELECT count(*) FROM {raw} r WHERE {live}), "
        "(SELECT count(*) FROM {name} WHERE {gone} IS NULL), {waiting}"
    ).format(
        raw=sql.Identifier(t.raw_table),
        live=live,
        name=sql.Identifier(t.name),
        gone=_GONE,
        waiting=waiting_sql(t.entity, sql.Identifier(t.raw_table), live),
    )


def _reconcile_check(t: Table) -> Check:
    @check(
        asset=t.name,
        name="reconciles_with_raw",
        blocking=True,
        description=f"Live rows of {t.raw_table} = rows of {t.name} + its records waiting in the DLQ.",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            live, rows, dlq = conn.execute(reconciliation_sql(t)).fetchone()
        return dg.AssetCheckResult(
            passed=live == rows + dlq, metadata={"live_raw_rows": live, "normalized_rows": rows, "in_dlq": dlq}
        )

    return _check


def _pending_check(t: Table) -> Check:
    @check(
        asset=t.name,
        name="references_resolved",
        description=f"No optional reference of {t.name} (or its junctions) waits for a missing target.",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT column_name, target_table, count(*), min(doorloop_id || ' -> ' || target_doorloop_id) "
                    "FROM {} WHERE table_name = %s GROUP BY 1, 2 ORDER BY 1, 2"
                ).format(sql.Identifier(PENDING)),
                (t.name,),
            ).fetchall()
        waiting = {f"{column} -> {target}": f"{count} (e.g. {example})" for column, target, count, example in rows}
        return dg.AssetCheckResult(
            passed=not rows,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"unresolved": sum(r[2] for r in rows), **waiting},
        )

    return _check


def build_normalized_checks(t: Table) -> list[Check]:
    checks = [_key_check(t.name, ["id"]), _reconcile_check(t)]
    if any(
        c.kind == "ref" and c.mode == "optional" for c in [*t.columns, *(c for ch in t.children for c in ch.columns)]
    ):
        checks.append(_pending_check(t))
    refs = [(c.name, c.target) for c in t.refs()]
    if refs:
        checks.append(_fk_check(t.name, refs))
    enums = [c for c in t.columns if c.kind == "enum"]
    if enums:
        checks.append(_enum_check(t.name, enums))
    for ch in t.children:
        checks += _child_checks(t, ch)
    return checks


def _child_checks(t: Table, ch: Child) -> list[Check]:
    refs = [(ch.parent_column, t.name), *((c.name, c.target) for c in ch.columns if c.kind == "ref")]
    checks = [_key_check(ch.name, [ch.parent_column, *ch.key]), _fk_check(ch.name, refs)]
    enums = [c for c in ch.columns if c.kind == "enum"]
    return checks + ([_enum_check(ch.name, enums)] if enums else [])


normalized_checks: list[Check] = [c for t in TABLES.values() for c in build_normalized_checks(t)]
