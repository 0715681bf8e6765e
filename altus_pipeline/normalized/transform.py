"""Normalize one table from its raw table: set-based SQL generated from the spec.

A run writes only its own asset's tables (the table and its junction and line tables),
plus its own entries of the shared bookkeeping (pending references, DLQ records and the
watermark of this table). Foreign keys between assets have no ``ON DELETE`` action, so
nothing cascades into another asset's table; what a run changes reaches the assets
downstream when they run (Dagster shows them stale until then).

One run, in one transaction:

1. Candidates: live raw rows changed since the table's watermark, plus live raw rows the
   table does not hold live (new rows, rows waiting in the DLQ for a fix or a missing
   parent, rows marked gone), plus rows with a pending reference whose target has now
   arrived, plus rows that (or whose junction or line rows) point at a row marked gone.
   Their uuid5 keys are computed in Python (PostgreSQL has no SHA-1 without an
   extension) and copied in with the ids: nothing else leaves SQL.
2. One ``SELECT`` types every column with guarded casts (a bad value never raises) and
   finds each row's first error, field by field, including its array elements and
   references (resolved by joining the live rows of the target tables on
   ``doorloop_id``: a row marked gone is no target).
3. Failing rows go to ``doorloop_error_records`` (stage ``normalize``, field-level
   reason) and leave the table, as do rows whose raw row was soft-deleted (or no longer
   matches the table's filter): their junction and line rows are deleted, references to
   them from this same table are set NULL and recorded pending (as a fresh run would have
   them), and each is marked gone (``gone_at``, values kept, so the foreign keys of rows
   elsewhere that still point at it stay true). Every gone row that no row of another
   table points at any more is deleted; the others wait for their referrers' runs, which
   reject (required) or unlink (optional, recorded pending) what pointed at them.
4. The rest are upserted with ``ON CONFLICT … WHERE … IS DISTINCT FROM``, so unchanged
   rows are not rewritten (a gone row whose raw row is valid again comes back); junction
   and line rows are synced (stale ones deleted, new or changed ones written).
5. Optional references that found no target are recorded in
   ``normalized_pending_references``; references to the same table (``parentAccount``)
   are resolved once the whole batch is written.
6. DLQ records of rows that now load, whose raw row changed, or that left raw, are
   resolved; the watermark moves on.

SQL is built from spec constants (identifiers and literals quoted here), with no
parameters, so ``%`` in ``format()`` needs no escaping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from altus_pipeline.ops.retry import RetryPolicy
from altus_pipeline.normalized.spec import (GONE, PENDING, REFERENCE_KINDS, TABLES, WATERMARKS, Child, Column, Table,
                                            key_of)
from altus_pipeline.warehouse.casts import ZONE_PATTERN, date_ok, for_server, timestamp_ok

STAGE = "normalize"
_NUM = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$"


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- typed values and their checks ---------------------------------------------------------


def jpath(base: str, path: tuple[str, ...]) -> str:
    """The JSON value at ``path`` of ``base``, SQL NULL for a missing key or JSON null."""
    inner = f"{base} #> {lit('{' + ','.join(path) + '}')}" if path else base
    return f"NULLIF({inner}, 'null'::jsonb)"


def reference_id(j: str) -> str:
    """The DoorLoop id a reference at JSON value ``j`` names, as text; NULL when it names none.

    DoorLoop sends the same reference as a bare id string or as an embedded object carrying
    ``id`` (docs/doorloop.md#references-in-either-shape), and not always the same way for a field: both are the same
    reference. This is the one place that says so in SQL.
    """
    return (f"(CASE jsonb_typeof({j}) WHEN 'string' THEN {j} #>> '{{}}' "
            f"WHEN 'object' THEN CASE WHEN jsonb_typeof({j} -> 'id') = 'string' THEN {j} ->> 'id' END END)")


@dataclass(frozen=True)
class Typed:
    """SQL of one column: its value, and the error conditions in order (condition, message)."""

    value: str
    errors: tuple[tuple[str, str], ...]
    ref_text: str | None = None  # refs: the referenced DoorLoop id (text), NULL when the value names none
    dangling: tuple[tuple[str, str], ...] = ()  # refs that reject: checked after every field's own checks


def typed(c: Column, base: str, field_sql: str, alias: str | None = None) -> Typed:
    """Value and checks of column ``c`` read from JSON ``base``; ``field_sql`` names the field in messages.

    A reference with no ``alias`` (one to its own table) has the value NULL here; the
    normalizer fills it in once the batch is written.
    """
    j = jpath(base, c.path)
    if c.when:
        j = f"(CASE WHEN ({base} #>> {lit('{' + ','.join(c.when[0]) + '}')}) = {lit(c.when[1])} THEN {j} END)"
    s = f"({j} #>> '{{}}')"
    t = f"jsonb_typeof({j})"
    shown = f"left({j}::text, 80)"

    def bad(ok: str, expected: str) -> tuple[str, str]:
        return (f"({j} IS NOT NULL AND NOT {ok})", f"format('%s %s is not %s', {field_sql}, {shown}, {lit(expected)})")

    errors: list[tuple[str, str]] = []
    dangling: list[tuple[str, str]] = []
    ref_text = reference_id(j) if c.kind in REFERENCE_KINDS else None
    blank = f"btrim({ref_text}) = ''" if ref_text else f"({t} = 'string' AND btrim({s}) = '')"
    if c.required:
        errors.append((f"({j} IS NULL OR {blank})", f"format('required field %s is missing', {field_sql})"))
    if c.kind in ("text",):
        ok = f"({t} IN ('string', 'number', 'boolean'))"
        value = f"CASE WHEN {ok} THEN {s} END"
        errors.append(bad(ok, "a string"))
    elif c.kind == "enum":
        ok = f"({t} = 'string' AND {s} IN ({', '.join(lit(v) for v in c.domain)}))"
        value = f"CASE WHEN {ok} THEN {s} END"
        errors.append(bad(ok, "one of " + ", ".join(c.domain)))
    elif c.kind in ("money", "numeric", "integer"):
        is_num = f"(CASE {t} WHEN 'number' THEN true WHEN 'string' THEN {s} ~ {lit(_NUM)} ELSE false END)"
        n = f"btrim({s})::numeric"
        if c.kind == "money":
            ok = f"(CASE WHEN {is_num} THEN abs({n}) < 1e12 ELSE false END)"
            value, expected = f"CASE WHEN {ok} THEN round({n}, 2) END", "an amount (a number below 1e12)"
        elif c.kind == "integer":
            ok = f"(CASE WHEN {is_num} THEN {n} = trunc({n}) AND abs({n}) < 1e18 ELSE false END)"
            value, expected = f"CASE WHEN {ok} THEN {n}::bigint END", "an integer"
        else:
            ok, value, expected = is_num, f"CASE WHEN {is_num} THEN {n} END", "a number"
        errors.append(bad(ok, expected))
    elif c.kind in ("date", "timestamptz"):
        stamp_ok = timestamp_ok(s)
        stamp = (f"(CASE WHEN {s} ~ {lit(ZONE_PATTERN)} THEN {s}::timestamptz "
                 f"ELSE {s}::timestamp AT TIME ZONE 'UTC' END)")
        if c.kind == "date":
            ok = f"(CASE WHEN {t} = 'string' THEN {date_ok(s)} OR {stamp_ok} ELSE false END)"
            value = f"CASE WHEN {ok} THEN CASE WHEN length({s}) = 10 THEN {s}::date ELSE ({stamp} AT TIME ZONE 'UTC')::date END END"
            errors.append(bad(ok, "a date (YYYY-MM-DD)"))
        else:
            epoch_ok = f"(CASE WHEN {t} = 'number' THEN abs(({s})::numeric) < 1e14 ELSE false END)"
            ok = f"(CASE {t} WHEN 'string' THEN {stamp_ok} WHEN 'number' THEN {epoch_ok} ELSE false END)"
            value = (f"CASE WHEN {ok} THEN CASE WHEN {t} = 'number' THEN to_timestamp(({s})::numeric / 1000) "
                     f"ELSE {stamp} END END")
            errors.append(bad(ok, "a timestamp (ISO 8601)"))
    elif c.kind == "boolean":
        ok = f"(CASE {t} WHEN 'boolean' THEN true WHEN 'string' THEN lower({s}) IN ('true', 'false') ELSE false END)"
        value = f"CASE WHEN {ok} THEN lower({s})::boolean END"
        errors.append(bad(ok, "a boolean"))
    elif c.kind == "jsonb":
        value = j
    else:  # ref, ref_id: either shape; an object without a string id names nothing and is an error
        errors.append(bad(f"({ref_text} IS NOT NULL)", 'an id (a string, or an object with a string "id")'))
        value = ref_text if c.kind == "ref_id" else (f"{alias}.id" if alias else "NULL::uuid")
        if c.kind == "ref" and c.mode in ("required", "strict"):
            target = c.target.removeprefix("normalized_")
            dangling.append((f"({ref_text} IS NOT NULL AND {alias}.id IS NULL)",
                           f"format('%s %s: no such {target} record (missing, or itself rejected)', {field_sql}, {ref_text})"))
    return Typed(value, tuple(errors), ref_text, tuple(dangling))


def target_join(c: Column, alias: str, ref_text: str) -> str:
    """``LEFT JOIN`` of reference ``c``'s target as ``alias``: live rows only (a row marked gone is no target)."""
    return f"LEFT JOIN {ident(c.target)} {alias} ON {alias}.doorloop_id = {ref_text} AND {alias}.{GONE} IS NULL"


def _first_error(errors: list[tuple[str, str]]) -> str:
    if not errors:
        return "NULL::text[]"
    whens = " ".join(f"WHEN {cond} THEN ARRAY[{field}, {msg}]" for cond, field, msg in errors)
    return f"CASE {whens} END"


# -- children (junctions and lines) -----------------------------------------------------------


@dataclass(frozen=True)
class ChildSql:
    errors: str  # scalar subquery: first element error of a row (text[]) or NULL
    rows: str  # SELECT of the child rows of loaded parents (DISTINCT per key, last wins)
    pending: list[str]  # SELECTs of (doorloop_id, column, target, target id) for dangling optional references


def _elements(ch: Child) -> str:
    """The elements of a candidate's arrays as ``e(v, n, src)``: value, position from 1, array name."""
    parts = []
    for array in ch.arrays:
        arr = jpath("c.payload", tuple(array.split(".")))
        single = f" WHEN 'object' THEN jsonb_build_array({arr})" if ch.role else ""
        parts.append(f"SELECT x.v, x.n, {lit(array)}::text FROM jsonb_array_elements("
                     f"CASE jsonb_typeof({arr}) WHEN 'array' THEN {arr}{single} END) WITH ORDINALITY AS x(v, n)")
    return f"({' UNION ALL '.join(parts)}) AS e(v, n, src)"


def child_sql(parent: Table, ch: Child) -> ChildSql:
    elements = _elements(ch)
    joins, errors, later, keep, values, pending = [], [], [], [], [], []
    if any(c.path for c in ch.columns):
        errors.append(("jsonb_typeof(e.v) <> 'object'", "format('%s[%s]', e.src, e.n - 1)",
                       "format('%s[%s] is a %s, expected an object', e.src, e.n - 1, jsonb_typeof(e.v))"))
    for i, c in enumerate(ch.columns):
        alias = f"x{i}"
        suffix = ("." + ".".join(c.path)) if c.path else ""
        field_sql = f"format('%s[%s]{suffix}', e.src, e.n - 1)"
        t = typed(c, "e.v", field_sql, alias)
        errors += [(cond, field_sql, msg) for cond, msg in t.errors]
        later += [(cond, field_sql, msg) for cond, msg in t.dangling]
        if c.kind == "ref":
            assert c.target != parent.name, f"{ch.name}.{c.name}: a child cannot reference its own parent table"
            join = target_join(c, alias, t.ref_text)
            joins.append(join)
            if c.mode == "optional":
                if c.name in ch.key:
                    keep.append(f"{alias}.id IS NOT NULL")
                pending.append(
                    f"SELECT c.doorloop_id, {lit(ch.name + '.' + c.name)}, {lit(c.target)}, {t.ref_text} "
                    f"FROM norm_checked c CROSS JOIN LATERAL {elements} {join} "
                    f"WHERE c.err IS NULL AND {t.ref_text} IS NOT NULL AND {alias}.id IS NULL")
        values.append(f"{t.value} AS {ident(c.name)}")
    join_sql = " ".join(joins)
    err_case = _first_error(errors + later)
    first_error = (f"(SELECT x.err FROM (SELECT {err_case} AS err, e.src, e.n FROM {elements} {join_sql}) x "
                   f"WHERE x.err IS NOT NULL ORDER BY x.src, x.n LIMIT 1)")
    allowed = "('array', 'object')" if ch.role else "('array')"
    shape = []
    for array in ch.arrays:
        arr = jpath("c.payload", tuple(array.split(".")))
        shape.append((f"({arr} IS NOT NULL AND jsonb_typeof({arr}) NOT IN {allowed})", lit(array),
                      f"format('%s is a %s, expected an array', {lit(array)}, jsonb_typeof({arr}))"))
    if ch.required:
        arr = jpath("c.payload", tuple(ch.arrays[0].split(".")))
        shape.append((f"({arr} IS NULL OR jsonb_array_length({arr}) = 0)", lit(ch.arrays[0]),
                      f"format('required field %s is missing or empty', {lit(ch.arrays[0])})"))
    errors_sql = f"COALESCE({_first_error(shape)}, {first_error})"
    key = ", ".join(["parent", *(ident(k) for k in ch.key)])
    extra = ([f"e.src AS {ident(ch.role)}"] if ch.role else []) + (["e.n::integer AS line_number"] if ch.lines else [])
    rows = (f"SELECT DISTINCT ON ({key}) * FROM (SELECT c.id AS parent, {', '.join(extra + values)}, e.n AS ord "
            f"FROM norm_checked c CROSS JOIN LATERAL {elements} {join_sql} "
            f"WHERE c.err IS NULL{''.join(' AND ' + k for k in keep)}) s ORDER BY {key}, ord DESC")
    return ChildSql(errors_sql, rows, pending)


# -- the whole table -------------------------------------------------------------------------


def ref_column(c: Column) -> str:
    """The ``norm_checked`` column holding the DoorLoop id an optional reference names."""
    return ident("ref:" + c.name)


def checked_sql(t: Table) -> str:
    """``CREATE TEMP TABLE norm_checked``: candidates with typed columns, first error, referenced ids."""
    joins, errors, later, values = [], [], [], []
    for i, c in enumerate(t.columns):
        alias = f"r{i}" if c.kind == "ref" and c.target != t.name else None
        ty = typed(c, "c.payload", lit(c.source), alias)
        errors += [(cond, lit(c.source), msg) for cond, msg in ty.errors]
        later += [(cond, lit(c.source), msg) for cond, msg in ty.dangling]
        if alias:
            joins.append(target_join(c, alias, ty.ref_text))
        values.append(f"{ty.value} AS {ident(c.name)}")
        if c.kind == "ref" and c.mode == "optional":
            values.append(f"{ty.ref_text} AS {ref_column(c)}")
    children = [child_sql(t, ch) for ch in t.children]
    # a record's own fields first, then its references, then its arrays
    err = f"COALESCE({_first_error(errors)}, {_first_error(later)}{''.join(', ' + ch.errors for ch in children)})"
    return (
        "CREATE TEMP TABLE norm_checked ON COMMIT DROP AS "
        f"SELECT c.id, c.doorloop_id, c.payload, c.content_hash, {', '.join(values)}, {err} AS err "
        f"FROM norm_cand c {' '.join(joins)}"
    )


def pending_sql(t: Table) -> str | None:
    """``INSERT`` of this batch's optional references that found no target (run after the batch is written)."""
    selects = [
        f"SELECT c.doorloop_id, {lit(c.name)}, {lit(c.target)}, c.{ref_column(c)} FROM norm_checked c "
        f"JOIN {ident(t.name)} n ON n.doorloop_id = c.doorloop_id "
        f"WHERE c.err IS NULL AND c.{ref_column(c)} IS NOT NULL AND n.{ident(c.name)} IS NULL"
        for c in t.refs() if c.mode == "optional"
    ] + [q for ch in t.children for q in child_sql(t, ch).pending]
    if not selects:
        return None
    return (f"INSERT INTO {PENDING} (table_name, doorloop_id, column_name, target_table, target_doorloop_id) "
            f"SELECT DISTINCT {lit(t.name)}, * FROM ({' UNION ALL '.join(selects)}) p ON CONFLICT DO NOTHING")


def _targets(t: Table) -> list[str]:
    return list(dict.fromkeys(c.target for c in [*t.refs(), *(c for ch in t.children for c in ch.columns)]
                              if c.kind == "ref"))


def recheck_sql(t: Table) -> str:
    """DoorLoop ids of held rows to normalize again though their raw row is unchanged.

    Either a pending reference's target has arrived (and is live), or the row, or one of
    its junction or line rows, points at a row marked gone: its reference then resolves
    as in a fresh run, rejecting the row (required) or leaving the link NULL and pending
    (optional).
    """
    name, gone = ident(t.name), f"x.{GONE} IS NOT NULL"
    arrived = [f"(p.target_table = {lit(x)} AND EXISTS (SELECT 1 FROM {ident(x)} x "
               f"WHERE x.doorloop_id = p.target_doorloop_id AND x.{GONE} IS NULL))" for x in _targets(t)]
    parts = [f"SELECT p.doorloop_id FROM {PENDING} p WHERE p.table_name = {lit(t.name)} "
             f"AND ({' OR '.join(arrived) or 'false'})"]
    parts += [f"SELECT n.doorloop_id FROM {name} n JOIN {ident(c.target)} x ON x.id = n.{ident(c.name)} "
              f"WHERE {gone} AND n.{GONE} IS NULL" for c in t.refs() if c.target != t.name]
    parts += [f"SELECT n.doorloop_id FROM {ident(ch.name)} j JOIN {ident(c.target)} x ON x.id = j.{ident(c.name)} "
              f"JOIN {name} n ON n.id = j.{ident(ch.parent_column)} WHERE {gone}"
              for ch in t.children for c in ch.columns if c.kind == "ref"]
    return " UNION ".join(parts)


def referrers(target: str) -> tuple[list[tuple[Table, Column]], list[tuple[Table, Child, Column]]]:
    """Who points at ``target``: (table, column) of top-level references, (table, child, column) of child ones."""
    top = [(u, c) for u in TABLES.values() for c in u.refs() if c.target == target]
    nested = [(u, ch, c) for u in TABLES.values() for ch in u.children for c in ch.columns
              if c.kind == "ref" and c.target == target]
    return top, nested


def referenced_sql(t: Table, alias: str = "n") -> str:
    """True while a row of another table points at row ``alias`` of ``t`` (its foreign key then keeps it)."""
    top, nested = referrers(t.name)
    used = [(u.name, c.name) for u, c in top if u.name != t.name] + [(ch.name, c.name) for _, ch, c in nested]
    return " OR ".join(f"EXISTS (SELECT 1 FROM {ident(u)} x WHERE x.{ident(c)} = {alias}.id)" for u, c in used) or "false"


def _live(t: Table, alias: str = "r") -> str:
    return f"{alias}.deleted_at IS NULL" + (f" AND {t.where.replace('r.', alias + '.')}" if t.where else "")


@dataclass
class ObjectCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows_in_table: int = 0


@dataclass
class NormalizeResult:
    """What one normalize run did, per object it writes."""

    table: str
    candidates: int = 0
    rejected: int = 0
    warnings: int = 0  # optional references of this batch that found no target
    unresolved_references: int = 0  # all the table's references waiting for a target
    references_resolved: int = 0
    resolved: int = 0
    rejected_removed: int = 0
    objects: dict[str, ObjectCounts] = field(default_factory=dict)
    seconds: float = 0.0

    def metadata(self, name: str) -> dict[str, Any]:
        counts = self.objects[name]
        meta: dict[str, Any] = {"inserted": counts.inserted, "updated": counts.updated, "deleted": counts.deleted,
                                "dagster/row_count": counts.rows_in_table}
        if name == self.table:
            meta.update(candidates=self.candidates, unchanged=self.candidates - self.rejected - counts.inserted - counts.updated,
                        soft_deleted=counts.deleted - self.rejected_removed, rejected=self.rejected,
                        warnings=self.warnings, unresolved_references=self.unresolved_references,
                        references_resolved=self.references_resolved, dlq_resolved=self.resolved,
                        seconds=round(self.seconds, 3))
        return meta


class Normalizer:
    """Runs the normalize of one table in the caller's transaction (the caller commits)."""

    def __init__(self, conn: psycopg.Connection, table: Table | str, run_id: str) -> None:
        self.conn = conn
        self.t = TABLES[table] if isinstance(table, str) else table
        self.run_id = run_id

    def _x(self, query: str) -> psycopg.Cursor:
        return self.conn.execute(query)

    def run(self) -> NormalizeResult:
        with for_server(self.conn):  # the server's own date parser when it offers one (16+)
            return self._run()

    def _run(self) -> NormalizeResult:
        started = time.monotonic()
        t, run = self.t, lit(self.run_id)
        result = NormalizeResult(t.name, objects={name: ObjectCounts() for name in t.objects})
        name, raw = ident(t.name), ident(t.raw_table)
        self._x(f"SELECT pg_advisory_xact_lock(hashtext({lit('normalize:' + t.name)}))")
        cutoff = self._x(
            "SELECT least(now(), min(xact_start)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start IS NOT NULL"
        ).fetchone()[0]
        row = self._x(f"SELECT changed_since FROM {WATERMARKS} WHERE table_name = {lit(t.name)}").fetchone()
        changed = f"r.last_changed_at >= {lit(row[0].isoformat())}::timestamptz OR " if row else ""
        ids = [r[0] for r in self._x(
            f"SELECT r.id FROM {raw} r WHERE {_live(t)} AND ({changed}"
            f"NOT EXISTS (SELECT 1 FROM {name} n WHERE n.doorloop_id = r.id AND n.{GONE} IS NULL) "
            f"OR r.id IN ({recheck_sql(t)}))"
        ).fetchall()]
        self._x("CREATE TEMP TABLE norm_keys (doorloop_id text PRIMARY KEY, id uuid NOT NULL) ON COMMIT DROP")
        with self.conn.cursor().copy("COPY norm_keys (doorloop_id, id) FROM STDIN") as copy:
            for doorloop_id in ids:
                copy.write_row((doorloop_id, key_of(t.entity, doorloop_id)))
        self._x(f"CREATE TEMP TABLE norm_cand ON COMMIT DROP AS SELECT k.id, k.doorloop_id, r.payload, r.content_hash "
                f"FROM norm_keys k JOIN {raw} r ON r.id = k.doorloop_id")
        self._x(checked_sql(t))
        self._x("ANALYZE norm_checked")
        result.candidates = len(ids)
        result.rejected = self._x("SELECT count(*) FILTER (WHERE err IS NOT NULL) FROM norm_checked").fetchone()[0]

        # failures: to the DLQ (a repeat of the same failure writes nothing) and out of the table
        self._x(
            "INSERT INTO doorloop_error_records AS e (entity, doorloop_id, stage, asset_key, partition_key, payload, "
            "payload_hash, error_class, field, message, run_id) "
            f"SELECT {lit(t.entity)}, c.doorloop_id, {lit(STAGE)}, {lit(t.name)}, NULL, c.payload, c.content_hash, "
            f"'validation', c.err[1], {lit(t.entity + ' ')} || c.doorloop_id || ': ' || c.err[2], {run} "
            "FROM norm_checked c WHERE c.err IS NOT NULL "
            "ON CONFLICT ON CONSTRAINT doorloop_error_records_failure_key DO UPDATE "
            "SET attempts = e.attempts + 1, last_seen_at = now(), field = EXCLUDED.field, message = EXCLUDED.message, "
            "run_id = EXCLUDED.run_id, resolved_at = NULL, "
            "status = CASE WHEN e.status = 'resolved' THEN 'open' ELSE e.status END "
            "WHERE e.status = 'resolved' OR e.message IS DISTINCT FROM EXCLUDED.message"
        )
        main = result.objects[t.name]
        result.rejected_removed, main.deleted = self._remove_leaving_rows(result)

        for c in t.self_refs():  # targets already in the table (a target new in this batch follows below)
            self._x(f"UPDATE norm_checked c SET {ident(c.name)} = x.id FROM {name} x "
                    f"WHERE x.doorloop_id = c.{ref_column(c)} AND x.{GONE} IS NULL")
        cols = [ident(c.name) for c in t.columns]
        revived = self._x(f"SELECT count(*) FROM {name} n JOIN norm_checked c ON c.doorloop_id = n.doorloop_id "
                          f"WHERE c.err IS NULL AND n.{GONE} IS NOT NULL").fetchone()[0]
        flags = [r[0] for r in self._x(
            f"INSERT INTO {name} AS t (id, doorloop_id, {', '.join(cols)}, normalized_at, last_run_id) "
            f"SELECT id, doorloop_id, {', '.join(cols)}, now(), {run} FROM norm_checked WHERE err IS NULL "
            f"ON CONFLICT (doorloop_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)}, "
            f"normalized_at = now(), last_run_id = EXCLUDED.last_run_id, {GONE} = NULL "
            f"WHERE ({', '.join('t.' + c for c in cols)}) IS DISTINCT FROM ({', '.join('EXCLUDED.' + c for c in cols)}) "
            f"OR t.{GONE} IS NOT NULL RETURNING (xmax = 0)"
        ).fetchall()]
        main.inserted = sum(flags) + revived  # a gone row back counts as new to its readers
        main.updated = len(flags) - main.inserted
        for ch in t.children:
            self._sync_child(ch, result.objects[ch.name])
        result.warnings, result.references_resolved = self._record_pending_references()
        result.unresolved_references = self._x(
            f"SELECT count(*) FROM {PENDING} WHERE table_name = {lit(t.name)}").fetchone()[0]

        result.resolved = self._x(
            "UPDATE doorloop_error_records e SET status = 'resolved', resolved_at = now(), last_seen_at = now(), "
            f"run_id = {run} WHERE e.entity = {lit(t.entity)} AND e.stage = {lit(STAGE)} "
            "AND e.status IN ('open', 'retrying', 'dead') AND ("
            "EXISTS (SELECT 1 FROM norm_checked c WHERE c.doorloop_id = e.doorloop_id "
            "AND (c.err IS NULL OR c.content_hash <> e.payload_hash)) "
            f"OR NOT EXISTS (SELECT 1 FROM {raw} r WHERE r.id = e.doorloop_id AND {_live(t)}))"
        ).rowcount
        # A retry requested for a record that still fails counts as an attempt; the last one
        # leaves it dead. Plain re-runs (status open) write nothing, so a no-change run stays empty.
        self._x(
            "UPDATE doorloop_error_records e SET attempts = e.attempts + 1, last_seen_at = now(), "
            f"next_retry_at = NULL, run_id = {run}, status = CASE WHEN e.attempts + 1 >= "
            f"{RetryPolicy.from_env().max_attempts:d} THEN 'dead' ELSE 'open' END "
            f"WHERE e.entity = {lit(t.entity)} AND e.stage = {lit(STAGE)} AND e.status = 'retrying'"
        )
        self._x(
            f"INSERT INTO {WATERMARKS} AS w (table_name, changed_since, last_run_id) "
            f"VALUES ({lit(t.name)}, {lit(cutoff.isoformat())}::timestamptz, {run}) "
            "ON CONFLICT (table_name) DO UPDATE SET changed_since = EXCLUDED.changed_since, "
            "updated_at = now(), last_run_id = EXCLUDED.last_run_id"
        )
        for obj, counts in result.objects.items():
            live = f" WHERE {GONE} IS NULL" if obj == t.name else ""
            counts.rows_in_table = self._x(f"SELECT count(*) FROM {ident(obj)}{live}").fetchone()[0]
            if counts.inserted or counts.updated or counts.deleted:
                # Fresh statistics for the KPI and view queries that read this table next: without
                # them (autovacuum has not come round yet) PostgreSQL guesses `gone_at IS NULL`
                # keeps 0.5% of the rows and plans nested loops that take minutes.
                self._x(f"ANALYZE {ident(obj)}")
        self._x("DROP TABLE norm_checked, norm_cand, norm_keys")
        result.seconds = time.monotonic() - started
        return result

    def _remove_leaving_rows(self, result: NormalizeResult) -> tuple[int, int]:
        """Take rejected rows and rows whose raw row left out of the table; (rejected, all) that left.

        Only this asset's tables are written. A leaving row's junction and line rows are
        deleted, and references to it from this same table are set NULL and recorded
        pending, as a fresh run would have them. The row is marked gone, values kept, so
        rows of other tables that point at it keep true foreign keys until their own runs
        let go of it; then (this run or a later one) a gone row nothing points at is deleted.
        """
        t, run = self.t, lit(self.run_id)
        name, raw = ident(t.name), ident(t.raw_table)
        self._x(
            f"CREATE TEMP TABLE norm_leaving ON COMMIT DROP AS SELECT n.id, n.doorloop_id, "
            f"n.doorloop_id IN (SELECT doorloop_id FROM norm_checked WHERE err IS NOT NULL) AS rejected FROM {name} n "
            f"WHERE n.{GONE} IS NULL AND (n.doorloop_id IN (SELECT doorloop_id FROM norm_checked WHERE err IS NOT NULL) "
            f"OR NOT EXISTS (SELECT 1 FROM {raw} r WHERE r.id = n.doorloop_id AND {_live(t)}))"
        )
        rejected, leaving = self._x("SELECT count(*) FILTER (WHERE rejected), count(*) FROM norm_leaving").fetchone()
        if leaving:
            for ch in t.children:
                result.objects[ch.name].deleted += self._x(
                    f"DELETE FROM {ident(ch.name)} WHERE {ident(ch.parent_column)} IN (SELECT id FROM norm_leaving)"
                ).rowcount
            for c in t.self_refs():
                col = ident(c.name)
                self._x(f"INSERT INTO {PENDING} (table_name, doorloop_id, column_name, target_table, target_doorloop_id) "
                        f"SELECT {lit(t.name)}, n.doorloop_id, {lit(c.name)}, {lit(t.name)}, l.doorloop_id "
                        f"FROM {name} n JOIN norm_leaving l ON n.{col} = l.id WHERE n.{GONE} IS NULL "
                        "AND n.id NOT IN (SELECT id FROM norm_leaving) ON CONFLICT DO NOTHING")
                self._x(f"UPDATE {name} n SET {col} = NULL, normalized_at = now(), last_run_id = {run} "
                        f"WHERE n.{col} IN (SELECT id FROM norm_leaving)")
            self._x(f"UPDATE {name} n SET {GONE} = now(), normalized_at = now(), last_run_id = {run} "
                    "WHERE n.id IN (SELECT id FROM norm_leaving)")
        # Locked first, so a referrer committed meanwhile is seen by the DELETE's fresh snapshot.
        self._x(f"SELECT 1 FROM {name} WHERE {GONE} IS NOT NULL FOR UPDATE")
        self._x(f"DELETE FROM {name} n WHERE n.{GONE} IS NOT NULL AND NOT ({referenced_sql(t)})")
        self._x("DROP TABLE norm_leaving")
        return rejected, leaving

    def _record_pending_references(self) -> tuple[int, int]:
        """Re-record the batch's unresolved optional references, link references to this
        same table whose target is now here (and live), and drop entries of rows no longer held live.
        Returns (references of the batch without a target, self-references linked)."""
        t, run = self.t, lit(self.run_id)
        name, mine = ident(t.name), f"p.table_name = {lit(t.name)}"
        self._x(f"DELETE FROM {PENDING} p WHERE {mine} AND p.doorloop_id IN (SELECT doorloop_id FROM norm_checked)")
        insert = pending_sql(t)
        if insert:
            self._x(insert)
        linked = 0
        for c in t.self_refs():
            col = ident(c.name)
            linked += self._x(
                f"UPDATE {name} n SET {col} = x.id, normalized_at = now(), last_run_id = {run} FROM {PENDING} p "
                f"JOIN {name} x ON x.doorloop_id = p.target_doorloop_id AND x.{GONE} IS NULL WHERE {mine} "
                f"AND p.column_name = {lit(c.name)} AND n.doorloop_id = p.doorloop_id AND n.{col} IS NULL "
                f"AND n.{GONE} IS NULL").rowcount
            self._x(f"DELETE FROM {PENDING} p WHERE {mine} AND p.column_name = {lit(c.name)} "
                    f"AND EXISTS (SELECT 1 FROM {name} x WHERE x.doorloop_id = p.target_doorloop_id AND x.{GONE} IS NULL)")
        self._x(f"DELETE FROM {PENDING} p WHERE {mine} AND NOT EXISTS "
                f"(SELECT 1 FROM {name} n WHERE n.doorloop_id = p.doorloop_id AND n.{GONE} IS NULL)")
        dangling = self._x(f"SELECT count(*) FROM {PENDING} p WHERE {mine} "
                           "AND p.doorloop_id IN (SELECT doorloop_id FROM norm_checked)").fetchone()[0]
        return dangling, linked

    def _sync_child(self, ch: Child, counts: ObjectCounts) -> None:
        rows = child_sql(self.t, ch).rows
        self._x(f"CREATE TEMP TABLE norm_child ON COMMIT DROP AS {rows}")
        name, parent = ident(ch.name), ident(ch.parent_column)
        key = [parent, *(ident(k) for k in ch.key)]
        match = " AND ".join([f"s.parent = t.{parent}", *(f"s.{k} = t.{k}" for k in key[1:])])
        counts.deleted += self._x(
            f"DELETE FROM {name} t WHERE t.{parent} IN (SELECT id FROM norm_checked WHERE err IS NULL) "
            f"AND NOT EXISTS (SELECT 1 FROM norm_child s WHERE {match})"
        ).rowcount
        cols = [ident(c) for c in ch.all_columns]
        source = ["parent", *cols[1:]]
        rest = [c for c in cols if c not in key]
        conflict = (f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in rest)} "
                    f"WHERE ({', '.join('t.' + c for c in rest)}) IS DISTINCT FROM ({', '.join('EXCLUDED.' + c for c in rest)})"
                    if len(rest) > 1 else
                    f"DO UPDATE SET {rest[0]} = EXCLUDED.{rest[0]} WHERE t.{rest[0]} IS DISTINCT FROM EXCLUDED.{rest[0]}"
                    if rest else "DO NOTHING")
        flags = [r[0] for r in self._x(
            f"INSERT INTO {name} AS t ({', '.join(cols)}) SELECT {', '.join(source)} FROM norm_child "
            f"ON CONFLICT ({', '.join(key)}) {conflict} RETURNING (xmax = 0)"
        ).fetchall()]
        counts.inserted = sum(flags)
        counts.updated = len(flags) - counts.inserted
        self._x("DROP TABLE norm_child")
