"""Checks on every normalized table: keys, foreign keys, enum domains, reconciliation with raw.

``reconciles_with_raw`` holds the layer's promise that no record silently vanishes:
live raw rows = normalized rows + rows waiting in the DLQ (stage ``normalize``) for that
entity. Key and foreign-key checks are blocking (downstream KPIs join on them).
``references_resolved`` warns (without blocking) while optional references point at
records the warehouse does not hold: the row loaded, its link waits for the target.
Rows marked gone (``gone_at``, kept only while other tables still point at them) count
nowhere: a live row linked to one dangles, and they are not rows of the table.
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.normalized.spec import GONE, PENDING, TABLES, Child, Column, Table
from altus_pipeline.normalized.transform import STAGE, ident, lit
from altus_pipeline.resources import WarehouseResource


def _count(warehouse: WarehouseResource, query: str) -> int:
    with warehouse.warehouse().connect() as conn:
        return conn.execute(query).fetchone()[0]


def _dangling_sql(table: str, column: str, target: str) -> str:
    live = f"c.{GONE} IS NULL AND " if table in TABLES else ""
    return (f"SELECT count(*) FROM {ident(table)} c WHERE {live}c.{ident(column)} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {ident(target)} p WHERE p.id = c.{ident(column)} AND p.{GONE} IS NULL)")


def _key_check(asset: str, key: list[str]) -> dg.AssetChecksDefinition:
    cols = ", ".join(ident(k) for k in key)
    nulls = " OR ".join(f"{ident(k)} IS NULL" for k in key)

    @dg.asset_check(asset=asset, name="primary_key_unique_non_null", blocking=True,
                    description=f"({', '.join(key)}) is never NULL and never repeated.")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            null_keys, dupes = conn.execute(
                f"SELECT count(*) FILTER (WHERE {nulls}), count(*) - count(DISTINCT ({cols})) FROM {ident(asset)}"
            ).fetchone()
        return dg.AssetCheckResult(passed=null_keys == 0 and dupes == 0,
                                   metadata={"null_keys": null_keys, "duplicate_keys": dupes})

    return _check


def _fk_check(asset: str, refs: list[tuple[str, str]]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name="no_dangling_foreign_keys", blocking=True,
                    description="Every reference points at an existing, live row: "
                                + ", ".join(f"{c} → {t}" for c, t in refs))
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        counts = {c: _count(warehouse, _dangling_sql(asset, c, t)) for c, t in refs}
        return dg.AssetCheckResult(passed=not any(counts.values()), metadata={f"dangling_{c}": n for c, n in counts.items()})

    return _check


def _enum_check(asset: str, enums: list[Column]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name="enum_domains",
                    description="Enum columns hold only their domain: " + ", ".join(c.name for c in enums))
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        counts = {
            c.name: _count(warehouse, f"SELECT count(*) FROM {ident(asset)} WHERE {ident(c.name)} NOT IN "
                                      f"({', '.join(lit(v) for v in c.domain)})")
            for c in enums
        }
        return dg.AssetCheckResult(passed=not any(counts.values()), metadata={f"outside_{k}": v for k, v in counts.items()})

    return _check


def reconciliation_sql(t: Table) -> str:
    live = "r.deleted_at IS NULL" + (f" AND {t.where}" if t.where else "")
    return (
        f"SELECT (SELECT count(*) FROM {ident(t.raw_table)} r WHERE {live}), "
        f"(SELECT count(*) FROM {ident(t.name)} WHERE {GONE} IS NULL), "
        f"(SELECT count(DISTINCT e.doorloop_id) FROM doorloop_error_records e WHERE e.entity = {lit(t.entity)} "
        f"AND e.stage = {lit(STAGE)} AND e.status <> 'resolved' AND EXISTS "
        f"(SELECT 1 FROM {ident(t.raw_table)} r WHERE r.id = e.doorloop_id AND {live}))"
    )


def _reconcile_check(t: Table) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=t.name, name="reconciles_with_raw", blocking=True,
                    description=f"Live rows of {t.raw_table} = rows of {t.name} + its records waiting in the DLQ.")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            live, rows, dlq = conn.execute(reconciliation_sql(t)).fetchone()
        return dg.AssetCheckResult(passed=live == rows + dlq,
                                   metadata={"live_raw_rows": live, "normalized_rows": rows, "in_dlq": dlq})

    return _check


def _pending_check(t: Table) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=t.name, name="references_resolved",
                    description=f"No optional reference of {t.name} (or its junctions) waits for a missing target.")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            rows = conn.execute(
                f"SELECT column_name, target_table, count(*), min(doorloop_id || ' -> ' || target_doorloop_id) "
                f"FROM {PENDING} WHERE table_name = {lit(t.name)} GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        waiting = {f"{column} -> {target}": f"{count} (e.g. {example})" for column, target, count, example in rows}
        return dg.AssetCheckResult(passed=not rows, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"unresolved": sum(r[2] for r in rows), **waiting})

    return _check


def build_normalized_checks(t: Table) -> list[dg.AssetChecksDefinition]:
    checks = [_key_check(t.name, ["id"]), _reconcile_check(t)]
    if any(c.kind == "ref" and c.mode == "optional" for c in [*t.columns, *(c for ch in t.children for c in ch.columns)]):
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


def _child_checks(t: Table, ch: Child) -> list[dg.AssetChecksDefinition]:
    refs = [(ch.parent_column, t.name), *((c.name, c.target) for c in ch.columns if c.kind == "ref")]
    checks = [_key_check(ch.name, [ch.parent_column, *ch.key]), _fk_check(ch.name, refs)]
    enums = [c for c in ch.columns if c.kind == "enum"]
    return checks + ([_enum_check(ch.name, enums)] if enums else [])


normalized_checks: list[dg.AssetChecksDefinition] = [c for t in TABLES.values() for c in build_normalized_checks(t)]
