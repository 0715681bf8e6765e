"""Normalize one table from its raw table: set-based SQL generated from the spec.

One run, in one transaction:

1. Candidates: live raw rows changed since the table's watermark, plus live raw rows the
   table does not hold (new rows, rows waiting in the DLQ for a fix or a missing parent,
   rows whose parent was removed). Their uuid5 keys are computed in Python (PostgreSQL
   has no SHA-1 without an extension) and copied in with the ids: nothing else leaves SQL.
2. One ``SELECT`` types every column with guarded casts (a bad value never raises) and
   finds each row's first error, field by field, including its array elements and
   references (resolved by joining the parent tables on ``doorloop_id``).
3. Failing rows go to ``doorloop_error_records`` (stage ``normalize``, field-level
   reason) and leave the table; the rest are upserted with ``ON CONFLICT … WHERE … IS
   DISTINCT FROM``, so unchanged rows are not rewritten; junction and line rows are
   synced (stale ones deleted, new or changed ones written).
4. Rows whose raw row was soft-deleted (or no longer matches the table's filter) are
   deleted; foreign keys cascade to their junction rows and children.
5. DLQ records of rows that now load, whose raw row changed, or that left raw, are
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
from altus_pipeline.normalized.spec import TABLES, WATERMARKS, Child, Column, Table, key_of

STAGE = "normalize"
_NUM = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_STAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
_ZONE = r"(Z|[+-]\d{2}(:?\d{2})?)$"


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- typed values and their checks ---------------------------------------------------------


def jpath(base: str, path: tuple[str, ...]) -> str:
    """The JSON value at ``path`` of ``base``, SQL NULL for a missing key or JSON null."""
    inner = f"{base} #> {lit('{' + ','.join(path) + '}')}" if path else base
    return f"NULLIF({inner}, 'null'::jsonb)"


@dataclass(frozen=True)
class Typed:
    """SQL of one column: its value, and the error conditions in order (condition, message)."""

    value: str
    errors: tuple[tuple[str, str], ...]
    ref_text: str | None = None  # refs: the referenced DoorLoop id (text), NULL when not a string
    dangling: tuple[tuple[str, str], ...] = ()  # refs that reject: checked after every field's own checks


def typed(c: Column, base: str, field_sql: str, alias: str | None = None) -> Typed:
    """Value and checks of column ``c`` read from JSON ``base``; ``field_sql`` names the field in messages."""
    j = jpath(base, c.path)
    s = f"({j} #>> '{{}}')"
    t = f"jsonb_typeof({j})"
    shown = f"left({j}::text, 80)"

    def bad(ok: str, expected: str) -> tuple[str, str]:
        return (f"({j} IS NOT NULL AND NOT {ok})", f"format('%s %s is not %s', {field_sql}, {shown}, {lit(expected)})")

    errors: list[tuple[str, str]] = []
    dangling: list[tuple[str, str]] = []
    if c.required:
        errors.append((f"({j} IS NULL OR ({t} = 'string' AND btrim({s}) = ''))",
                       f"format('required field %s is missing', {field_sql})"))
    ref_text = None
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
        stamp_ok = f"({s} ~ {lit(_STAMP)} AND pg_input_is_valid({s}, 'timestamptz'))"
        stamp = (f"(CASE WHEN {s} ~ {lit(_ZONE)} THEN {s}::timestamptz "
                 f"ELSE {s}::timestamp AT TIME ZONE 'UTC' END)")
        if c.kind == "date":
            ok = (f"(CASE WHEN {t} = 'string' THEN ({s} ~ {lit(_DATE)} AND pg_input_is_valid({s}, 'date')) "
                  f"OR {stamp_ok} ELSE false END)")
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
    else:  # ref
        ok = f"({t} = 'string')"
        ref_text = f"CASE WHEN {ok} THEN {s} END"
        value = f"{alias}.id"
        errors.append(bad(ok, "an id (a string)"))
        if c.mode in ("required", "strict"):
            target = c.target.removeprefix("normalized_")
            dangling.append((f"({ref_text} IS NOT NULL AND {alias}.id IS NULL)",
                           f"format('%s %s: no such {target} record (missing, or itself rejected)', {field_sql}, {ref_text})"))
    return Typed(value, tuple(errors), ref_text, tuple(dangling))


def _first_error(errors: list[tuple[str, str]]) -> str:
    if not errors:
        return "NULL::text[]"
    whens = " ".join(f"WHEN {cond} THEN ARRAY[{field}, {msg}]" for cond, field, msg in errors)
    return f"CASE {whens} END"


def _dangling(c: Column, t: Typed, alias: str) -> str:
    return f"({t.ref_text} IS NOT NULL AND {alias}.id IS NULL)"


# -- children (junctions and lines) -----------------------------------------------------------


@dataclass(frozen=True)
class ChildSql:
    errors: str  # scalar subquery: first element error of a row (text[]) or NULL
    warnings: str  # scalar subquery: count of elements with a dangling optional reference
    rows: str  # SELECT of the child rows of loaded parents (DISTINCT per key, last wins)


def child_sql(parent: Table, ch: Child) -> ChildSql:
    arr = jpath("c.payload", ch.array)
    array_name = ".".join(ch.array)
    elements = f"jsonb_array_elements(CASE WHEN jsonb_typeof({arr}) = 'array' THEN {arr} END) WITH ORDINALITY AS e(v, n)"
    joins, errors, later, dangling_opt, keep, values = [], [], [], [], [], []
    objects = any(c.path for c in ch.columns)
    if objects:
        errors.append((f"jsonb_typeof(e.v) <> 'object'", f"format('{array_name}[%s]', e.n - 1)",
                       f"format('{array_name}[%s] is a %s, expected an object', e.n - 1, jsonb_typeof(e.v))"))
    for i, c in enumerate(ch.columns):
        alias = f"x{i}"
        suffix = ("." + ".".join(c.path)) if c.path else ""
        field_sql = f"format('{array_name}[%s]{suffix}', e.n - 1)"
        t = typed(c, "e.v", field_sql, alias)
        errors += [(cond, field_sql, msg) for cond, msg in t.errors]
        later += [(cond, field_sql, msg) for cond, msg in t.dangling]
        if c.kind == "ref":
            joins.append(f"LEFT JOIN {ident(c.target)} {alias} ON {alias}.doorloop_id = {t.ref_text}")
            if c.mode == "optional":
                dangling_opt.append(_dangling(c, t, alias))
                if c.name in ch.key:
                    keep.append(f"{alias}.id IS NOT NULL")
        values.append(f"{t.value} AS {ident(c.name)}")
    join_sql = " ".join(joins)
    err_case = _first_error(errors + later)
    first_error = (f"(SELECT x.err FROM (SELECT {err_case} AS err, e.n FROM {elements} {join_sql}) x "
                   f"WHERE x.err IS NOT NULL ORDER BY x.n LIMIT 1)")
    shape = [(f"({arr} IS NOT NULL AND jsonb_typeof({arr}) <> 'array')", lit(array_name),
                      f"format('%s is a %s, expected an array', {lit(array_name)}, jsonb_typeof({arr}))")]
    if ch.required:
        shape.append((f"({arr} IS NULL OR jsonb_array_length({arr}) = 0)", lit(array_name),
                      f"format('required field %s is missing or empty', {lit(array_name)})"))
    errors_sql = f"COALESCE({_first_error(shape)}, {first_error})"
    warn = " OR ".join(dangling_opt) or "false"
    warnings = f"(SELECT count(*) FROM {elements} {join_sql} WHERE {warn})"
    key = ", ".join(["parent", *(ident(k) for k in ch.key)])
    line = ["e.n::integer AS line_number"] if ch.lines else []
    rows = (f"SELECT DISTINCT ON ({key}) * FROM (SELECT c.id AS parent, {', '.join(line + values)}, e.n AS ord "
            f"FROM norm_checked c CROSS JOIN LATERAL {elements} {join_sql} "
            f"WHERE c.err IS NULL{''.join(' AND ' + k for k in keep)}) s ORDER BY {key}, ord DESC")
    return ChildSql(errors_sql, warnings, rows)


# -- the whole table -------------------------------------------------------------------------


def checked_sql(t: Table) -> str:
    """``CREATE TEMP TABLE norm_checked``: candidates with typed columns, first error, warnings."""
    joins, errors, later, values, warns = [], [], [], [], []
    for i, c in enumerate(t.columns):
        alias = f"r{i}"
        ty = typed(c, "c.payload", lit(c.source), alias)
        errors += [(cond, lit(c.source), msg) for cond, msg in ty.errors]
        later += [(cond, lit(c.source), msg) for cond, msg in ty.dangling]
        if c.kind == "ref":
            joins.append(f"LEFT JOIN {ident(c.target)} {alias} ON {alias}.doorloop_id = {ty.ref_text}")
            if c.mode == "optional":
                warns.append(f"({_dangling(c, ty, alias)})::int")
        values.append(f"{ty.value} AS {ident(c.name)}")
    children = [child_sql(t, ch) for ch in t.children]
    # a record's own fields first, then its references, then its arrays
    err = f"COALESCE({_first_error(errors)}, {_first_error(later)}{''.join(', ' + ch.errors for ch in children)})"
    warnings = " + ".join(warns + [ch.warnings for ch in children]) or "0"
    return (
        "CREATE TEMP TABLE norm_checked ON COMMIT DROP AS "
        f"SELECT c.id, c.doorloop_id, c.payload, c.content_hash, {', '.join(values)}, "
        f"{err} AS err, ({warnings})::int AS warnings "
        f"FROM norm_cand c {' '.join(joins)}"
    )


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
    warnings: int = 0
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
                        warnings=self.warnings, dlq_resolved=self.resolved, seconds=round(self.seconds, 3))
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
            f"NOT EXISTS (SELECT 1 FROM {name} n WHERE n.doorloop_id = r.id))"
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
        result.rejected, result.warnings = self._x(
            "SELECT count(*) FILTER (WHERE err IS NOT NULL), coalesce(sum(warnings), 0) FROM norm_checked").fetchone()

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
        result.rejected_removed = self._x(
            f"DELETE FROM {name} n USING norm_checked c WHERE n.doorloop_id = c.doorloop_id AND c.err IS NOT NULL"
        ).rowcount
        gone = self._x(
            f"DELETE FROM {name} n WHERE NOT EXISTS (SELECT 1 FROM {raw} r WHERE r.id = n.doorloop_id AND {_live(t)})"
        ).rowcount
        main = result.objects[t.name]
        main.deleted = result.rejected_removed + gone

        cols = [ident(c.name) for c in t.columns]
        flags = [r[0] for r in self._x(
            f"INSERT INTO {name} AS t (id, doorloop_id, {', '.join(cols)}, normalized_at, last_run_id) "
            f"SELECT id, doorloop_id, {', '.join(cols)}, now(), {run} FROM norm_checked WHERE err IS NULL "
            f"ON CONFLICT (doorloop_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)}, "
            "normalized_at = now(), last_run_id = EXCLUDED.last_run_id "
            f"WHERE ({', '.join('t.' + c for c in cols)}) IS DISTINCT FROM ({', '.join('EXCLUDED.' + c for c in cols)}) "
            "RETURNING (xmax = 0)"
        ).fetchall()]
        main.inserted = sum(flags)
        main.updated = len(flags) - main.inserted
        for ch in t.children:
            self._sync_child(ch, result.objects[ch.name])

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
            counts.rows_in_table = self._x(f"SELECT count(*) FROM {ident(obj)}").fetchone()[0]
        self._x("DROP TABLE norm_checked, norm_cand, norm_keys")
        result.seconds = time.monotonic() - started
        return result

    def _sync_child(self, ch: Child, counts: ObjectCounts) -> None:
        rows = child_sql(self.t, ch).rows
        self._x(f"CREATE TEMP TABLE norm_child ON COMMIT DROP AS {rows}")
        name, parent = ident(ch.name), ident(ch.parent_column)
        key = [parent, *(ident(k) for k in ch.key)]
        match = " AND ".join([f"s.parent = t.{parent}", *(f"s.{k} = t.{k}" for k in key[1:])])
        counts.deleted = self._x(
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
