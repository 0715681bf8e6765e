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
   extension) and copied in with the ids, a batch at a time, so memory stays flat: nothing
   else leaves SQL (counts of what was written come back as counts, not rows).
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
   and line rows are synced (stale ones deleted, new or changed ones written). A first load
   (an empty table, at least ``FIRST_LOAD_ROWS`` live raw rows) inserts plainly, with the
   foreign keys, indexes and keys of the asset's tables dropped (a primary key only when no
   other table's foreign key relies on it) and made again after the writes: one join checks
   each foreign key, one sort builds each index, instead of work per row
   (``warehouse/constraints.py``). It also types its rows and their arrays from the raw table
   alone, which PostgreSQL's parallel workers can read (the session's temporary tables they
   cannot), with loads of that raw table held off until it commits.
5. Optional references that found no target are recorded in
   ``normalized_pending_references``; references to the same table (``parentAccount``)
   are resolved once the whole batch is written (a new row's target new in the same batch
   before the upsert, so the row is written once).
6. DLQ records of rows that now load, whose raw row changed, or that left raw, are
   resolved; the watermark moves on.

SQL is composed with ``psycopg.sql`` from spec constants (``sql.Identifier`` for names,
``sql.Literal`` for the spec's own strings inside the generated checks); a run's values
(run id, watermark, table name) are bound as parameters. The statements that embed the
generated checks carry no parameters, so ``%`` in their ``format()`` messages needs no escaping.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from altus_pipeline.dlq.statements import count_normalize_retries, record_normalize_rejects, resolve_normalized
from altus_pipeline.normalized.spec import (
    GONE,
    PENDING,
    REFERENCE_KINDS,
    TABLES,
    WATERMARKS,
    Child,
    Column,
    Table,
    key_hex,
)
from altus_pipeline.warehouse.casts import date_ok, for_server, has_zone, timestamp_ok
from altus_pipeline.warehouse.constraints import checked_once, indexed_once
from altus_pipeline.warehouse.locks import take_turn

_KEY_BATCH = 20_000  # candidate ids held in Python at once while their uuid5 keys are computed
# Live raw rows from which a load into an empty table checks its foreign keys once at the end.
# Below, the per-row checks cost less (20k rows, 4 keys: about 0.3 s) than the first load's
# exclusive locks may wait (an autovacuum of a table it references yields only after a second).
FIRST_LOAD_ROWS = 20_000
_NUM = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$"
_GONE, _PENDING, _WATERMARKS = sql.Identifier(GONE), sql.Identifier(PENDING), sql.Identifier(WATERMARKS)
# Which bad element of a record is reported: the first by array name (``src`` of ``_elements``), then position (its ``n``, as ``ord``).
_ELEMENT_ORDER = sql.SQL("src, ord")
_PARENT_ID = sql.Identifier("parent:doorloop_id")  # a child row's parent's DoorLoop id, in ``child_rows``
_FIELD_ERROR = sql.Identifier("err:fields")  # in ``checked_sql``: the first error of a row's own fields
_CHECKED = sql.Identifier("norm_checked")  # the run's typed candidates, each with its first error (or NULL)


# -- typed values and their checks ---------------------------------------------------------


def jpath(base: sql.Composable, path: tuple[str, ...]) -> sql.Composable:
    """The JSON value at ``path`` of ``base``, SQL NULL for a missing key or JSON null."""
    inner = sql.SQL("{} #> {}").format(base, sql.Literal("{" + ",".join(path) + "}")) if path else base
    return sql.SQL("NULLIF({inner}, 'null'::jsonb)").format(inner=inner)


def reference_id(j: sql.Composable, jtype: sql.Composable | None = None) -> sql.Composable:
    """The DoorLoop id a reference at JSON value ``j`` names, as text; NULL when it names none.

    DoorLoop sends the same reference as a bare id string or as an embedded object carrying
    ``id`` (docs/doorloop.md#references-in-either-shape), and not always the same way for a field: both are the same
    reference. This is the one place that says so in SQL. ``jtype``: ``j``'s JSON type, when already computed.
    """
    return sql.SQL(
        "(CASE {t} WHEN 'string' THEN {j} #>> '{{}}' "
        "WHEN 'object' THEN CASE WHEN jsonb_typeof({j} -> 'id') = 'string' THEN {j} ->> 'id' END END)"
    ).format(j=j, t=jtype if jtype is not None else sql.SQL("jsonb_typeof({})").format(j))


@dataclass(frozen=True)
class Typed:
    """SQL of one column: its value, and what makes it an error.

    A present value that does not type leaves ``value`` (for references: ``ref_text``) NULL,
    and only then: "present and NULL" is the same test as the guard ``ok`` failing, so a
    statement that has the value at hand need not evaluate the guard again (``errors``).
    """

    json: sql.Composable  # the column's JSON value, SQL NULL when absent
    value: sql.Composable
    ref_text: sql.Composable | None = None  # refs: the referenced DoorLoop id (text), NULL when the value names none
    missing: tuple[sql.Composable, sql.Composable] | None = None  # required: (absent or blank, message)
    # the guard (a present value types) and the message when it fails; None: any value does
    guard: tuple[sql.Composable, sql.Composable] | None = None
    # refs that reject: checked after every field's own checks
    dangling: tuple[tuple[sql.Composable, sql.Composable], ...] = ()

    def errors(self, cast: sql.Composable | None = None) -> list[tuple[sql.Composable, sql.Composable]]:
        """The error conditions in order (condition, message).

        ``cast``: SQL naming this column's guarded value (a reference's ``ref_text``) already
        computed, to be tested for NULL instead of evaluating the guard again.
        """
        errors = [self.missing] if self.missing else []
        if self.guard:
            ok, message = self.guard
            failed = sql.SQL("NOT {}").format(ok) if cast is None else sql.SQL("{} IS NULL").format(cast)
            errors.append((sql.SQL("({} IS NOT NULL AND {})").format(self.json, failed), message))
        return errors


def field_json(c: Column, base: sql.Composable) -> sql.Composable:
    """The JSON value column ``c`` reads from JSON ``base`` (NULL when its ``when`` condition does not hold)."""
    j = jpath(base, c.path)
    if c.when:
        j = sql.SQL("(CASE WHEN ({base} #>> {path}) = {value} THEN {j} END)").format(
            base=base, path=sql.Literal("{" + ",".join(c.when[0]) + "}"), value=sql.Literal(c.when[1]), j=j
        )
    return j


def typed(
    c: Column,
    base: sql.Composable,
    field_sql: sql.Composable,
    alias: sql.Identifier | None = None,
    field: sql.Composable | None = None,
    text: sql.Composable | None = None,
    jtype: sql.Composable | None = None,
    ref: sql.Composable | None = None,
) -> Typed:
    """Value and checks of column ``c`` read from JSON ``base``; ``field_sql`` names the field in messages.

    ``field``, ``text``, ``jtype`` and ``ref``, when given, are SQL naming the column's JSON
    value, its text, its JSON type and (references) the id it names, already computed (see
    ``checked_sql``). A reference with no ``alias`` (one to its own table) has the value NULL
    here; the normalizer fills it in once the batch is written.
    """
    j = field if field is not None else field_json(c, base)
    s = text if text is not None else sql.SQL("({j} #>> '{{}}')").format(j=j)
    t = jtype if jtype is not None else sql.SQL("jsonb_typeof({j})").format(j=j)

    def q(template: str, **parts: sql.Composable) -> sql.Composed:
        """``template`` with this column's ``j`` (JSON), ``s`` (text) and ``t`` (JSON type) and ``parts`` filled in."""
        return sql.SQL(template).format(j=j, s=s, t=t, **parts)

    dangling: list[tuple[sql.Composable, sql.Composable]] = []
    ref_text = (ref if ref is not None else reference_id(j, t)) if c.kind in REFERENCE_KINDS else None
    blank = q("btrim({r}) = ''", r=ref_text) if ref_text else q("({t} = 'string' AND btrim({s}) = '')")
    ok: sql.Composable | None = None  # the guard: a present value types (and may be cast)
    expected = ""
    if c.kind in ("text",):
        ok = q("({t} IN ('string', 'number', 'boolean'))")
        value, expected = q("CASE WHEN {ok} THEN {s} END", ok=ok), "a string"
    elif c.kind == "enum":
        ok = q("({t} = 'string' AND {s} IN ({domain}))", domain=sql.SQL(", ").join(map(sql.Literal, c.domain)))
        value, expected = q("CASE WHEN {ok} THEN {s} END", ok=ok), "one of " + ", ".join(c.domain)
    elif c.kind in ("money", "numeric", "integer"):
        is_num = q(
            "(CASE {t} WHEN 'number' THEN true WHEN 'string' THEN {s} ~ {pattern} ELSE false END)",
            pattern=sql.Literal(_NUM),
        )
        n = q("btrim({s})::numeric")
        if c.kind == "money":
            ok = q("(CASE WHEN {is_num} THEN abs({n}) < 1e12 ELSE false END)", is_num=is_num, n=n)
            value, expected = q("CASE WHEN {ok} THEN round({n}, 2) END", ok=ok, n=n), "an amount (a number below 1e12)"
        elif c.kind == "integer":
            ok = q("(CASE WHEN {is_num} THEN {n} = trunc({n}) AND abs({n}) < 1e18 ELSE false END)", is_num=is_num, n=n)
            value, expected = q("CASE WHEN {ok} THEN {n}::bigint END", ok=ok, n=n), "an integer"
        else:
            ok, value, expected = is_num, q("CASE WHEN {is_num} THEN {n} END", is_num=is_num, n=n), "a number"
    elif c.kind in ("date", "timestamptz"):
        stamp_ok = timestamp_ok(s)
        stamp = q(
            "(CASE WHEN {zone} THEN {s}::timestamptz ELSE {s}::timestamp AT TIME ZONE 'UTC' END)", zone=has_zone(s)
        )
        if c.kind == "date":
            ok = q(
                "(CASE WHEN {t} = 'string' THEN {date_ok} OR {stamp_ok} ELSE false END)",
                date_ok=date_ok(s),
                stamp_ok=stamp_ok,
            )
            value = q(
                "CASE WHEN {ok} THEN CASE WHEN length({s}) = 10 THEN {s}::date "
                "ELSE ({stamp} AT TIME ZONE 'UTC')::date END END",
                ok=ok,
                stamp=stamp,
            )
            expected = "a date (YYYY-MM-DD)"
        else:
            epoch_ok = q("(CASE WHEN {t} = 'number' THEN abs(({s})::numeric) < 1e14 ELSE false END)")
            ok = q(
                "(CASE {t} WHEN 'string' THEN {stamp_ok} WHEN 'number' THEN {epoch_ok} ELSE false END)",
                stamp_ok=stamp_ok,
                epoch_ok=epoch_ok,
            )
            value = q(
                "CASE WHEN {ok} THEN CASE WHEN {t} = 'number' THEN to_timestamp(({s})::numeric / 1000) "
                "ELSE {stamp} END END",
                ok=ok,
                stamp=stamp,
            )
            expected = "a timestamp (ISO 8601)"
    elif c.kind == "boolean":
        ok = q("(CASE {t} WHEN 'boolean' THEN true WHEN 'string' THEN lower({s}) IN ('true', 'false') ELSE false END)")
        value, expected = q("CASE WHEN {ok} THEN lower({s})::boolean END", ok=ok), "a boolean"
    elif c.kind == "jsonb":
        value = j
    else:  # ref, ref_id: either shape; an object without a string id names nothing and is an error
        ok, expected = q("({r} IS NOT NULL)", r=ref_text), 'an id (a string, or an object with a string "id")'
        value = ref_text if c.kind == "ref_id" else (q("{a}.id", a=alias) if alias else sql.SQL("NULL::uuid"))
        if c.kind == "ref" and c.mode in ("required", "strict"):
            target = c.target.removeprefix("normalized_")
            dangling.append(
                (
                    q("({r} IS NOT NULL AND {a}.id IS NULL)", r=ref_text, a=alias),
                    q(
                        "format({message}, {field}, {r})",
                        field=field_sql,
                        r=ref_text,
                        message=sql.Literal(f"%s %s: no such {target} record (missing, or itself rejected)"),
                    ),
                )
            )
    guard = (
        (
            ok,
            q("format('%s %s is not %s', {field}, left({j}::text, 80), {e})", field=field_sql, e=sql.Literal(expected)),
        )
        if ok is not None
        else None
    )
    missing = (
        (
            q("({j} IS NULL OR {blank})", blank=blank),
            q("format('required field %s is missing', {field})", field=field_sql),
        )
        if c.required
        else None
    )
    return Typed(j, value, ref_text, missing, guard, tuple(dangling))


def target_join(c: Column, alias: sql.Identifier, ref_text: sql.Composable) -> sql.Composable:
    """``LEFT JOIN`` of reference ``c``'s target as ``alias``: live rows only (a row marked gone is no target)."""
    return sql.SQL("LEFT JOIN {target} {a} ON {a}.doorloop_id = {r} AND {a}.{gone} IS NULL").format(
        target=sql.Identifier(c.target), a=alias, r=ref_text, gone=_GONE
    )


def _first_error(errors: list[tuple[sql.Composable, sql.Composable, sql.Composable]]) -> sql.Composable:
    if not errors:
        return sql.SQL("NULL::text[]")
    whens = sql.SQL(" ").join(sql.SQL("WHEN {} THEN ARRAY[{}, {}]").format(*error) for error in errors)
    return sql.SQL("CASE {} END").format(whens)


# -- children (junctions and lines) -----------------------------------------------------------


@dataclass(frozen=True)
class ChildSql:
    shape: sql.Composable  # a row's first error in the shape of its arrays (text[]) or NULL, from ``c.payload``
    element_error: sql.Composable  # an element's first error (text[]) or NULL, over ``elements`` and ``joins``
    elements: sql.Composable
    joins: sql.Composable
    rows: sql.Composable  # SELECT of the child rows of loaded parents (DISTINCT per key, last wins)
    pending: list[sql.Composable]  # SELECTs of (doorloop_id, column, target, target id) of dangling optional refs
    pending_from_payloads: bool  # ``pending`` reads the elements again from ``norm_checked``'s payloads

    def first_error_of_row(self) -> sql.Composable:
        """Scalar subquery: the first element error of candidate ``c`` (text[]), NULL when none."""
        return sql.SQL(
            "(SELECT x.err FROM (SELECT {err} AS err, e.src, e.n AS ord FROM {elements} {joins}) x "
            "WHERE x.err IS NOT NULL ORDER BY {order} LIMIT 1)"
        ).format(err=self.element_error, elements=self.elements, joins=self.joins, order=_ELEMENT_ORDER)


def child_rows(ch: Child) -> sql.Identifier:
    """The temporary table of the run's rows of child ``ch`` (``ChildSql.rows``), kept until the pending references are recorded."""
    return sql.Identifier("norm_child:" + ch.name)


def child_elements(ch: Child) -> sql.Identifier:
    """The temporary table of a first load's elements of child ``ch`` (``typed_elements_sql``), kept until its rows are made."""
    return sql.Identifier("norm_elements:" + ch.name)


def _array(array: str) -> sql.Composable:
    """The JSON value of a candidate's array ``array`` (a dotted path)."""
    return jpath(sql.SQL("c.payload"), tuple(array.split(".")))


def _elements(ch: Child) -> sql.Composable:
    """The elements of a candidate's arrays as ``e(v, n, src)``: value, position from 1, array name."""
    parts = []
    for array in ch.arrays:
        arr = _array(array)
        single = sql.SQL(" WHEN 'object' THEN jsonb_build_array({arr})").format(arr=arr) if ch.role else sql.SQL("")
        parts.append(
            sql.SQL(
                "SELECT x.v, x.n, {name}::text FROM jsonb_array_elements("
                "CASE jsonb_typeof({arr}) WHEN 'array' THEN {arr}{single} END) WITH ORDINALITY AS x(v, n)"
            ).format(name=sql.Literal(array), arr=arr, single=single)
        )
    return sql.SQL("({}) AS e(v, n, src)").format(sql.SQL(" UNION ALL ").join(parts))


@dataclass
class _ElementColumns:
    """What a child's columns add to a statement over its elements ``e``: see ``_element_columns``."""

    values: list[sql.Composable] = field(default_factory=list)
    errors: list[tuple[sql.Composable, sql.Composable, sql.Composable]] = field(default_factory=list)
    later: list[tuple[sql.Composable, sql.Composable, sql.Composable]] = field(default_factory=list)
    keep: list[sql.Composable] = field(default_factory=list)
    joins: list[sql.Composable] = field(default_factory=list)
    pending: list[sql.Composable] = field(default_factory=list)
    layers: tuple[list[sql.Composable], ...] = field(default_factory=lambda: ([], [], []))


def _element_columns(parent: Table, ch: Child, elements: sql.Composable, layered: bool = False) -> _ElementColumns:
    """Values, checks, target joins and pending references of ``ch``'s columns, read from element ``e.v``.

    ``layered``: the expressions name columns of ``e`` instead (``layers``: each column's JSON
    value ``j``, then its text and JSON type ``s`` and ``t``, then the id a reference names
    ``v``), which a statement computes once per element in layers, as ``checked_sql`` does for
    a row's fields; otherwise each check takes its value out of ``e.v`` again.
    """
    out = _ElementColumns()
    if any(c.path for c in ch.columns):
        out.errors.append(
            (
                sql.SQL("jsonb_typeof(e.v) <> 'object'"),
                sql.SQL("format('%s[%s]', e.src, e.n - 1)"),
                sql.SQL("format('%s[%s] is a %s, expected an object', e.src, e.n - 1, jsonb_typeof(e.v))"),
            )
        )
    for i, c in enumerate(ch.columns):
        alias = sql.Identifier(f"x{i}")
        suffix = ("." + ".".join(c.path)) if c.path else ""
        field_sql = sql.SQL("format({}, e.src, e.n - 1)").format(sql.Literal(f"%s[%s]{suffix}"))
        refers = c.kind in REFERENCE_KINDS
        if layered:
            j, s, jt, v = (sql.SQL("e.{}").format(sql.Identifier(f"{x}{i}")) for x in ("j", "s", "t", "v"))
            out.layers[0].append(sql.SQL("{} AS {}").format(field_json(c, sql.SQL("e.v")), sql.Identifier(f"j{i}")))
            out.layers[1].append(
                sql.SQL("({j} #>> '{{}}') AS {s}, jsonb_typeof({j}) AS {t}").format(
                    j=j, s=sql.Identifier(f"s{i}"), t=sql.Identifier(f"t{i}")
                )
            )
            if refers:
                out.layers[2].append(sql.SQL("{} AS {}").format(reference_id(j, jt), sql.Identifier(f"v{i}")))
            t = typed(c, sql.SQL("e.v"), field_sql, alias, field=j, text=s, jtype=jt, ref=v if refers else None)
        else:
            t = typed(c, sql.SQL("e.v"), field_sql, alias)
        out.errors += [(cond, field_sql, msg) for cond, msg in t.errors()]
        out.later += [(cond, field_sql, msg) for cond, msg in t.dangling]
        if c.kind == "ref":
            assert c.target != parent.name, f"{ch.name}.{c.name}: a child cannot reference its own parent table"
            join = target_join(c, alias, t.ref_text)
            out.joins.append(join)
            if c.mode == "optional":
                if c.name in ch.key:
                    out.keep.append(sql.SQL("{}.id IS NOT NULL").format(alias))
                column, target = sql.Literal(ch.name + "." + c.name), sql.Literal(c.target)
                if ch.by_position:  # every element of a loaded parent is a row: read the rows written
                    out.values.append(sql.SQL("{} AS {}").format(t.ref_text, ref_column(c)))
                    out.pending.append(
                        sql.SQL(
                            "SELECT s.{parent}, {column}, {target}, s.{ref} FROM {rows} s "
                            "WHERE s.{ref} IS NOT NULL AND s.{col} IS NULL"
                        ).format(
                            parent=_PARENT_ID,
                            column=column,
                            target=target,
                            ref=ref_column(c),
                            rows=child_rows(ch),
                            col=sql.Identifier(c.name),
                        )
                    )
                else:
                    out.pending.append(
                        sql.SQL(
                            "SELECT c.doorloop_id, {column}, {target}, {r} FROM norm_checked c "
                            "CROSS JOIN LATERAL {elements} {join} WHERE c.err IS NULL AND {r} IS NOT NULL AND {a}.id IS NULL"
                        ).format(column=column, target=target, r=t.ref_text, elements=elements, join=join, a=alias)
                    )
        out.values.append(sql.SQL("{} AS {}").format(t.value, sql.Identifier(c.name)))
    return out


def child_sql(parent: Table, ch: Child, first_load: bool = False) -> ChildSql:
    """SQL of child ``ch`` of ``parent`` (``first_load``: see ``checked_sql``)."""
    elements = _elements(ch)
    cols = _element_columns(parent, ch, elements)
    join_sql = sql.SQL(" ").join(cols.joins)
    allowed = sql.SQL("('array', 'object')" if ch.role else "('array')")
    shape = []
    for array in ch.arrays:
        arr, name = _array(array), sql.Literal(array)
        shape.append(
            (
                sql.SQL("({arr} IS NOT NULL AND jsonb_typeof({arr}) NOT IN {allowed})").format(
                    arr=arr, allowed=allowed
                ),
                name,
                sql.SQL("format('%s is a %s, expected an array', {name}, jsonb_typeof({arr}))").format(
                    name=name, arr=arr
                ),
            )
        )
    if ch.required:
        arr, name = _array(ch.arrays[0]), sql.Literal(ch.arrays[0])
        shape.append(
            (
                sql.SQL("({arr} IS NULL OR jsonb_array_length({arr}) = 0)").format(arr=arr),
                name,
                sql.SQL("format('required field %s is missing or empty', {})").format(name),
            )
        )
    key = sql.SQL(", ").join([sql.SQL("parent"), *map(sql.Identifier, ch.key)])
    element_error = _first_error(cols.errors + cols.later)
    parts = {
        "parent_id": _PARENT_ID,
        "values": sql.SQL(", ").join(_position_columns(ch) + cols.values),
        "elements": elements,
        "joins": join_sql,
        "keep": _and_each(cols.keep),
    }
    if first_load:  # the elements typed beforehand (``typed_elements_sql``)
        source = sql.SQL(
            "SELECT p.id AS parent, s.* FROM {typed} s "
            "JOIN norm_checked p ON p.doorloop_id = s.{parent_id} AND p.err IS NULL WHERE s.keep"
        ).format(typed=child_elements(ch), parent_id=_PARENT_ID)
    else:
        source = sql.SQL(
            "SELECT c.id AS parent, c.doorloop_id AS {parent_id}, {values}, e.n AS ord "
            "FROM norm_checked c CROSS JOIN LATERAL {elements} {joins} WHERE c.err IS NULL{keep}"
        ).format(**parts)
    # Two elements of one key: the last wins. Sorted by key even where no two can share one
    # (``by_position``): the insert then appends to the key's index instead of landing all over it.
    rows = sql.SQL("SELECT DISTINCT ON ({key}) * FROM ({source}) s ORDER BY {key}, ord DESC").format(
        key=key, source=source
    )
    return ChildSql(
        _first_error(shape),
        element_error,
        elements,
        join_sql,
        rows,
        cols.pending,
        bool(cols.pending) and not ch.by_position,
    )


def _position_columns(ch: Child) -> list[sql.Composable]:
    """The columns a child row takes from its element's place: the array it came from (``role``), its line number."""
    return ([sql.SQL("e.src AS {}").format(sql.Identifier(ch.role))] if ch.role else []) + (
        [sql.SQL("e.n::integer AS line_number")] if ch.lines else []
    )


def typed_elements_sql(parent: Table, ch: Child) -> sql.Composable:
    """A first load's SELECT of every element of child ``ch`` in the raw rows, typed, with its error.

    From the raw table alone (by parallel workers, as in ``checked_sql``), before the parents:
    their errors are read from it, then its rows. Each column's values are taken out of the
    element once, in layers.
    """
    elements = _elements(ch)
    flat = _element_columns(parent, ch, elements, layered=True)
    spread = sql.SQL(
        "(SELECT c.doorloop_id, e.v, e.n, e.src{j} FROM {candidates} c CROSS JOIN LATERAL {elements} OFFSET NULL)"
    ).format(
        j=sql.Composed([sql.SQL(", {}").format(j) for j in flat.layers[0]]),
        candidates=_candidates(parent, True, sql.SQL("r.payload")),
        elements=elements,
    )
    return sql.SQL(
        "SELECT e.doorloop_id AS {parent_id}, {values}, e.n AS ord, e.src, {err} AS err, true{keep} AS keep "
        "FROM {layers} e {joins}"
    ).format(
        parent_id=_PARENT_ID,
        values=sql.SQL(", ").join(_position_columns(ch) + flat.values),
        err=_first_error(flat.errors + flat.later),
        keep=_and_each(flat.keep),
        layers=_layer(flat.layers[2], _layer(flat.layers[1], spread, "e"), "e"),
        joins=sql.SQL(" ").join(flat.joins),
    )


# -- the whole table -------------------------------------------------------------------------


def ref_column(c: Column) -> sql.Identifier:
    """The ``norm_checked`` column holding the DoorLoop id an optional reference names."""
    return sql.Identifier("ref:" + c.name)


def checked_sql(t: Table, first_load: bool = False) -> sql.Composable:
    """``CREATE TEMP TABLE norm_checked``: candidates with typed columns, first error, referenced ids.

    One scan of the candidates' raw rows (through ``norm_keys``: the payloads are not copied
    first), in layers (an ``OFFSET`` keeps PostgreSQL from inlining one into the next, which
    would repeat each expression wherever the next names it): each field's JSON value is
    taken out of the payload once (``j``), then its text and JSON type once (``s``,
    ``t``), then its guarded cast once (``v``: the typed value, or for a reference the id it
    names), then the first error of its arrays' elements. The row's first error then only
    tests ``v``: a present field whose ``v`` is NULL did not type (``Typed``), so no guard is
    evaluated twice.

    ``first_load``: every live raw row is a candidate, so the layers scan the raw table itself
    and ``norm_keys`` (a temporary table, which only the session's own process can read) is
    joined last, for the keys. PostgreSQL's parallel workers can then type the rows: the
    layers' ``OFFSET NULL`` stops the inlining as ``OFFSET 0`` does, but it is a constant the
    planner sees is no limit (a cast ``0`` it does not), so the layers may run below a
    ``Gather``.
    """
    joins: list[sql.Composable] = []
    errors: list[tuple[sql.Composable, sql.Composable, sql.Composable]] = []
    later: list[tuple[sql.Composable, sql.Composable, sql.Composable]] = []
    values: list[sql.Composable] = []
    texts: list[sql.Composable] = []
    casts: list[sql.Composable] = []
    for i, c in enumerate(t.columns):
        j, s, jt, v = (sql.SQL("c.{}").format(sql.Identifier(f"{x}{i}")) for x in ("j", "s", "t", "v"))
        alias = sql.Identifier(f"r{i}") if c.kind == "ref" and c.target != t.name else None
        source = sql.Literal(c.source)
        refers = c.kind in REFERENCE_KINDS
        ty = typed(c, sql.SQL("c.payload"), source, alias, field=j, text=s, jtype=jt, ref=v if refers else None)
        if c.kind != "jsonb" or c.required:
            texts.append(
                sql.SQL("({j} #>> '{{}}') AS {s}, jsonb_typeof({j}) AS {t}").format(
                    j=j, s=sql.Identifier(f"s{i}"), t=sql.Identifier(f"t{i}")
                )
            )
        if c.kind != "jsonb":
            cast = reference_id(j, jt) if refers else ty.value
            casts.append(sql.SQL("{} AS {}").format(cast, sql.Identifier(f"v{i}")))
        errors += [(cond, source, msg) for cond, msg in ty.errors(cast=v)]
        later += [(cond, source, msg) for cond, msg in ty.dangling]
        if alias:
            joins.append(target_join(c, alias, v))
        values.append(
            sql.SQL("{} AS {}").format(ty.value if refers or c.kind == "jsonb" else v, sql.Identifier(c.name))
        )
        if c.kind == "ref" and c.mode == "optional":
            values.append(sql.SQL("{} AS {}").format(v, ref_column(c)))
    children = [child_sql(t, ch) for ch in t.children]
    shapes = [sql.SQL("{} AS {}").format(ch.shape, sql.Identifier(f"shape{k}")) for k, ch in enumerate(children)]
    if first_load:  # from ``elements_sql``, run just before
        element_joins = [
            sql.SQL(
                " LEFT JOIN (SELECT DISTINCT ON ({parent_id}) {parent_id}, err FROM {typed} WHERE err IS NOT NULL "
                "ORDER BY {parent_id}, {order}) {e} ON {e}.{parent_id} = c.doorloop_id"
            ).format(e=sql.Identifier(f"e{k}"), parent_id=_PARENT_ID, typed=child_elements(ch), order=_ELEMENT_ORDER)
            for k, ch in enumerate(t.children)
        ]
        element_errors = [sql.SQL("{}.err").format(sql.Identifier(f"e{k}")) for k in range(len(children))]
    else:
        element_joins, element_errors = [], [ch.first_error_of_row() for ch in children]
    array_errors = [sql.SQL("c.{}, {}").format(sql.Identifier(f"shape{k}"), e) for k, e in enumerate(element_errors)]
    # A record's own fields first, then its references, then its arrays. The fields' errors are
    # found in a layer (where parallel workers can), so the fields' JSON values go no further.
    field_errors = sql.SQL("{} AS {}").format(_first_error(errors), _FIELD_ERROR)
    err = sql.SQL("COALESCE({})").format(
        sql.SQL(", ").join([sql.SQL("c.{}").format(_FIELD_ERROR), _first_error(later), *array_errors])
    )
    fields = sql.SQL(", ").join(
        [
            sql.SQL("r.payload, r.content_hash"),
            *(
                sql.SQL("{} AS {}").format(field_json(c, sql.SQL("r.payload")), sql.Identifier(f"j{i}"))
                for i, c in enumerate(t.columns)
            ),
        ]
    )

    source_rows = _layer(
        [field_errors, *shapes], _layer(casts, _layer(texts, _candidates(t, first_load, fields, layered=True)))
    )
    keys = sql.SQL(" JOIN norm_keys k ON k.doorloop_id = c.doorloop_id") if first_load else sql.SQL("")
    # A payload is read again for the DLQ (a rejected row's), by a later run's child rows, and by
    # the pending references of a child not by position. A first load without the last keeps only
    # the rejected rows': its table is then a third of the size (1.3 M lease payments: 486 MB
    # against 1,276 MB), cheaper to write and to read for each statement after.
    read_again = not first_load or any(ch.pending_from_payloads for ch in children)
    payload = sql.SQL("c.payload") if read_again else sql.SQL("CASE WHEN {} IS NOT NULL THEN c.payload END").format(err)
    return sql.SQL(
        "CREATE TEMP TABLE norm_checked ON COMMIT DROP AS "
        "SELECT {key}.id, c.doorloop_id, {payload} AS payload, c.content_hash, {values}, {err} AS err "
        "FROM {rows} c{keys}{element_joins} {joins}"
    ).format(
        key=sql.Identifier("k" if first_load else "c"),
        payload=payload,
        values=sql.SQL(", ").join(values),
        err=err,
        rows=source_rows,
        keys=keys,
        element_joins=sql.Composed(element_joins),
        joins=sql.SQL(" ").join(joins),
    )


def _and_each(conditions: list[sql.Composable]) -> sql.Composable:
    """`` AND c`` for each of ``conditions``, to follow a condition already written."""
    return sql.Composed([sql.SQL(" AND {}").format(c) for c in conditions])


def _layer(columns: list[sql.Composable], inner: sql.Composable, alias: str = "c") -> sql.Composable:
    """``inner`` (a subquery) with ``columns`` added, computed once per row (``OFFSET NULL``: see ``checked_sql``)."""
    if not columns:
        return inner
    return sql.SQL("(SELECT {a}.*, {} FROM {} {a} OFFSET NULL)").format(
        sql.SQL(", ").join(columns), inner, a=sql.Identifier(alias)
    )


def _candidates(t: Table, first_load: bool, columns: sql.Composable, layered: bool = False) -> sql.Composable:
    """The candidates' raw rows as ``(SELECT doorloop_id, [id,] columns …)`` (``columns`` read raw row ``r``).

    ``first_load``: every live raw row, read from the raw table alone (parallel workers can
    read it); the key (``id``) is then left to the caller to join from ``norm_keys``.
    Otherwise the rows ``norm_keys`` names, with their keys. ``layered``: the innermost layer
    of ``checked_sql``, kept whole (``OFFSET NULL``).
    """
    offset = sql.SQL(" OFFSET NULL") if layered else sql.SQL("")
    if first_load:
        return sql.SQL("(SELECT r.id AS doorloop_id, {} FROM {} r WHERE {}{})").format(
            columns, sql.Identifier(t.raw_table), _live(t), offset
        )
    return sql.SQL("(SELECT k.id, k.doorloop_id, {} FROM norm_keys k JOIN {} r ON r.id = k.doorloop_id{})").format(
        columns, sql.Identifier(t.raw_table), offset
    )


def elements_sql(t: Table) -> list[sql.Composable]:
    """``CREATE TEMP TABLE`` of a first load's elements of each child (``child_elements``), typed, each with its error.

    Read from the raw table alone, so PostgreSQL's parallel workers can expand the arrays;
    the raw table is locked against writers first (``Normalizer._first_load``), so these and
    ``checked_sql`` read the same rows. The arrays are expanded once: ``checked_sql`` reads
    their errors here, ``_sync_child`` their rows.
    """
    return [
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS {}").format(child_elements(ch), typed_elements_sql(t, ch))
        for ch in t.children
    ]


def pending_sql(t: Table) -> sql.Composable | None:
    """``INSERT`` of this batch's optional references that found no target (run after the batch is written).

    A row of the batch is in the table as ``norm_checked`` has it (written, or equal already),
    so its link is read there rather than by joining the table again: in one scan for all its
    references (a scan each took 0.46 s for the 1.3 M lease payments of a first load, four of them).
    """
    optional = [c for c in t.refs() if c.mode == "optional"]
    dangling = [
        sql.SQL("c.{ref} IS NOT NULL AND c.{col} IS NULL").format(ref=ref_column(c), col=sql.Identifier(c.name))
        for c in optional
    ]
    links = [
        sql.SQL("({}, {}, CASE WHEN {} THEN c.{} END)").format(
            sql.Literal(c.name), sql.Literal(c.target), missing, ref_column(c)
        )
        for c, missing in zip(optional, dangling, strict=True)
    ]
    selects = [q for ch in t.children for q in child_sql(t, ch).pending]
    if optional:
        selects.append(
            sql.SQL(
                "SELECT c.doorloop_id, v.* FROM norm_checked c CROSS JOIN LATERAL (VALUES {links}) v(col, target, ref) "
                "WHERE c.err IS NULL AND ({dangling}) AND v.ref IS NOT NULL"
            ).format(links=sql.SQL(", ").join(links), dangling=sql.SQL(" OR ").join(dangling))
        )
    if not selects:
        return None
    return sql.SQL(
        "INSERT INTO {pending} (table_name, doorloop_id, column_name, target_table, target_doorloop_id) "
        "SELECT DISTINCT {table}, * FROM ({selects}) p ON CONFLICT DO NOTHING"
    ).format(pending=_PENDING, table=sql.Literal(t.name), selects=sql.SQL(" UNION ALL ").join(selects))


def _targets(t: Table) -> list[str]:
    return list(
        dict.fromkeys(c.target for c in [*t.refs(), *(c for ch in t.children for c in ch.columns)] if c.kind == "ref")
    )


def recheck_sql(t: Table) -> sql.Composable:
    """DoorLoop ids of held rows to normalize again though their raw row is unchanged.

    Either a pending reference's target has arrived (and is live), or the row, or one of
    its junction or line rows, points at a row marked gone: its reference then resolves
    as in a fresh run, rejecting the row (required) or leaving the link NULL and pending
    (optional).
    """
    name = sql.Identifier(t.name)
    arrived = [
        sql.SQL(
            "(p.target_table = {name} AND EXISTS (SELECT 1 FROM {target} x "
            "WHERE x.doorloop_id = p.target_doorloop_id AND x.{gone} IS NULL))"
        ).format(name=sql.Literal(x), target=sql.Identifier(x), gone=_GONE)
        for x in _targets(t)
    ]
    parts = [
        sql.SQL("SELECT p.doorloop_id FROM {pending} p WHERE p.table_name = {name} AND ({arrived})").format(
            pending=_PENDING,
            name=sql.Literal(t.name),
            arrived=sql.SQL(" OR ").join(arrived) if arrived else sql.SQL("false"),
        )
    ]
    parts += [
        sql.SQL(
            "SELECT n.doorloop_id FROM {name} n JOIN {target} x ON x.id = n.{col} "
            "WHERE x.{gone} IS NOT NULL AND n.{gone} IS NULL"
        ).format(name=name, target=sql.Identifier(c.target), col=sql.Identifier(c.name), gone=_GONE)
        for c in t.refs()
        if c.target != t.name
    ]
    parts += [
        sql.SQL(
            "SELECT n.doorloop_id FROM {child} j JOIN {target} x ON x.id = j.{col} "
            "JOIN {name} n ON n.id = j.{parent} WHERE x.{gone} IS NOT NULL"
        ).format(
            child=sql.Identifier(ch.name),
            target=sql.Identifier(c.target),
            col=sql.Identifier(c.name),
            name=name,
            parent=sql.Identifier(ch.parent_column),
            gone=_GONE,
        )
        for ch in t.children
        for c in ch.columns
        if c.kind == "ref"
    ]
    return sql.SQL(" UNION ").join(parts)


def referrers(target: str) -> tuple[list[tuple[Table, Column]], list[tuple[Table, Child, Column]]]:
    """Who points at ``target``: (table, column) of top-level references, (table, child, column) of child ones."""
    top = [(u, c) for u in TABLES.values() for c in u.refs() if c.target == target]
    nested = [
        (u, ch, c)
        for u in TABLES.values()
        for ch in u.children
        for c in ch.columns
        if c.kind == "ref" and c.target == target
    ]
    return top, nested


def referenced_sql(t: Table, alias: str = "n") -> sql.Composable:
    """True while a row of another table points at row ``alias`` of ``t`` (its foreign key then keeps it)."""
    top, nested = referrers(t.name)
    used = [(u.name, c.name) for u, c in top if u.name != t.name] + [(ch.name, c.name) for _, ch, c in nested]
    if not used:
        return sql.SQL("false")
    return sql.SQL(" OR ").join(
        sql.SQL("EXISTS (SELECT 1 FROM {} x WHERE x.{} = {}.id)").format(
            sql.Identifier(u), sql.Identifier(c), sql.Identifier(alias)
        )
        for u, c in used
    )


def _live(t: Table, alias: str = "r") -> sql.Composable:
    """A raw row ``alias`` is live and (when the table has a filter) belongs to ``t``."""
    where = sql.SQL(" AND " + t.where.replace("r.", alias + ".")) if t.where else sql.SQL("")
    return sql.SQL("{}.deleted_at IS NULL{}").format(sql.Identifier(alias), where)


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
        meta: dict[str, Any] = {
            "inserted": counts.inserted,
            "updated": counts.updated,
            "deleted": counts.deleted,
            "dagster/row_count": counts.rows_in_table,
        }
        if name == self.table:
            meta.update(
                candidates=self.candidates,
                unchanged=self.candidates - self.rejected - counts.inserted - counts.updated,
                soft_deleted=counts.deleted - self.rejected_removed,
                rejected=self.rejected,
                warnings=self.warnings,
                unresolved_references=self.unresolved_references,
                references_resolved=self.references_resolved,
                dlq_resolved=self.resolved,
                seconds=round(self.seconds, 3),
            )
        return meta


class Normalizer:
    """Runs the normalize of one table in the caller's transaction (the caller commits)."""

    def __init__(self, conn: psycopg.Connection, table: Table | str, run_id: str) -> None:
        self.conn = conn
        self.t = TABLES[table] if isinstance(table, str) else table
        self.run_id = run_id

    def _x(self, query: sql.Composable | str, params: tuple[Any, ...] | None = None) -> psycopg.Cursor:
        return self.conn.execute(query, params)

    def run(self) -> NormalizeResult:
        with for_server(self.conn):  # the server's own date parser when it offers one (16+)
            return self._run()

    def _run(self) -> NormalizeResult:
        started = time.monotonic()
        t, run = self.t, self.run_id
        result = NormalizeResult(t.name, objects={name: ObjectCounts() for name in t.objects})
        name, raw = sql.Identifier(t.name), sql.Identifier(t.raw_table)
        take_turn(self.conn, "normalize", t.name)
        cutoff = self._x(
            "SELECT least(now(), min(xact_start)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start IS NOT NULL"
        ).fetchone()[0]
        row = self._x(
            sql.SQL("SELECT changed_since FROM {} WHERE table_name = %s").format(_WATERMARKS), (t.name,)
        ).fetchone()
        changed = sql.SQL("r.last_changed_at >= %s OR " if row else "")
        first_load = self._first_load()
        # No index: the ids come from the raw table's key, so they are unique, and every statement
        # reads the whole table. A primary key here cost 8 µs a row (13 s of a 1.5 M-row first
        # load): random inserts into an index larger than the session's temporary buffers.
        self._x("CREATE TEMP TABLE norm_keys (doorloop_id text NOT NULL, id uuid NOT NULL) ON COMMIT DROP")
        # The ids stream through a server-side cursor a batch at a time, so memory stays flat however many change.
        # Every row it returns is read: planned for the first tenth (a cursor's default), the join
        # below became a probe per raw row, 7.4 s instead of 0.7 s for 1.5 M rows with nothing to do.
        self._x("SET LOCAL cursor_tuple_fraction = 1")
        # The typed SELECT joins its candidates' keys by hash: at the default 4 MB, a first load
        # of 1.3 M rows split it in 16 batches and wrote every payload to temporary files and
        # back (32 s; 23 s with this). A hash table may take four times this, 256 MB: the keys
        # of 2.5 M candidates in one batch (at twice, PostgreSQL's default, 1.5 M took two and
        # wrote 570 MB of typed rows to temporary files and back: 15.8 s against 13.0 s).
        self._x("SET LOCAL work_mem = '64MB'")
        self._x("SET LOCAL hash_mem_multiplier = 4")
        with self.conn.cursor(name="norm_candidate_ids") as ids:
            # A join, not ``NOT EXISTS``: beside an ``OR`` that would probe the table once per raw row.
            ids.execute(
                sql.SQL(
                    "SELECT r.id FROM {raw} r LEFT JOIN {name} n ON n.doorloop_id = r.id AND n.{gone} IS NULL "
                    "WHERE {live} AND ({changed}n.doorloop_id IS NULL OR r.id IN ({recheck}))"
                ).format(raw=raw, live=_live(t), changed=changed, name=name, gone=_GONE, recheck=recheck_sql(t)),
                (row[0],) if row else None,
            )
            while batch := ids.fetchmany(_KEY_BATCH):
                with self.conn.cursor().copy("COPY norm_keys (doorloop_id, id) FROM STDIN") as copy:
                    for (doorloop_id,) in batch:
                        copy.write_row((doorloop_id, key_hex(t.entity, doorloop_id)))
                result.candidates += len(batch)
        # Its size for the planner: guessed from its pages, a first load's keys looked as many as
        # the typed rows, and the join hashed those (2 GB at 1.5 M rows) instead of the keys.
        self._x("ANALYZE norm_keys")
        for statement in elements_sql(t) if first_load else []:
            self._x(statement)
        self._x(checked_sql(t, first_load))
        # Statistics of the columns the next statements filter and join on, not of the payload's
        # (a wide jsonb, sampled and sorted): those cost nearly a tenth of a normalize and plan nothing.
        analyzed = [sql.Identifier(c) for c in ("id", "doorloop_id", "err")]
        analyzed += [ref_column(c) for c in t.refs() if c.mode == "optional"]
        self._x(sql.SQL("ANALYZE norm_checked ({})").format(sql.SQL(", ").join(analyzed)))
        result.rejected = self._x("SELECT count(*) FILTER (WHERE err IS NOT NULL) FROM norm_checked").fetchone()[0]

        # failures: to the DLQ (a repeat of the same failure writes nothing) and out of the table
        record_normalize_rejects(self.conn, t.entity, t.name, run, _CHECKED)
        with ExitStack() as first:
            keyed_at_end: frozenset[str] = frozenset()
            if first_load:
                first.enter_context(checked_once(self.conn, t.objects))
                keyed_at_end = first.enter_context(indexed_once(self.conn, t.objects))
            self._write(result, first_load, sorted_in=t.name not in keyed_at_end)

        result.unresolved_references = self._x(
            sql.SQL("SELECT count(*) FROM {} WHERE table_name = %s").format(_PENDING), (t.name,)
        ).fetchone()[0]

        result.resolved = resolve_normalized(self.conn, t.entity, run, _CHECKED, raw, _live(t))
        count_normalize_retries(self.conn, t.entity, run)
        self._x(
            sql.SQL(
                "INSERT INTO {} AS w (table_name, changed_since, last_run_id) VALUES (%s, %s, %s) "
                "ON CONFLICT (table_name) DO UPDATE SET changed_since = EXCLUDED.changed_since, "
                "updated_at = now(), last_run_id = EXCLUDED.last_run_id"
            ).format(_WATERMARKS),
            (t.name, cutoff, run),
        )
        for obj, counts in result.objects.items():
            live = sql.SQL(" WHERE {} IS NULL").format(_GONE) if obj == t.name else sql.SQL("")
            counts.rows_in_table = self._x(
                sql.SQL("SELECT count(*) FROM {}{}").format(sql.Identifier(obj), live)
            ).fetchone()[0]
            if counts.inserted or counts.updated or counts.deleted:
                # Fresh statistics for the KPI and view queries that read this table next: without
                # them (autovacuum has not come round yet) PostgreSQL guesses `gone_at IS NULL`
                # keeps 0.5% of the rows and plans nested loops that take minutes.
                self._x(sql.SQL("ANALYZE {}").format(sql.Identifier(obj)))
        self._x("DROP TABLE norm_checked, norm_keys")
        result.seconds = time.monotonic() - started
        return result

    def _first_load(self) -> bool:
        """Whether this run is a first load (``FIRST_LOAD_ROWS``); if so, its locks are taken now.

        The foreign keys are checked once at the end (``checked_once``), which locks the
        tables they reference: taken now, so what the references resolve against cannot
        change before then, and in one order for every table, so first loads running at
        once mostly wait for each other (PostgreSQL fails one of a deadlock).
        """
        t = self.t
        if self._x(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(t.name))).fetchone()[0]:
            return False
        live_rows = self._x(
            sql.SQL("SELECT count(*) FROM (SELECT FROM {} r WHERE {} LIMIT %s) r").format(
                sql.Identifier(t.raw_table), _live(t)
            ),
            (FIRST_LOAD_ROWS,),
        ).fetchone()[0]
        if live_rows < FIRST_LOAD_ROWS:
            return False
        locked = sorted({*t.requires(), *t.objects})
        self._x(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.SQL(", ").join(map(sql.Identifier, locked)))
        )
        # The rows are typed by two statements (``elements_sql``, ``checked_sql``): a load
        # of the raw table waits until this commits, so both read the same raw rows.
        self._x(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(t.raw_table)))
        return True

    def _write(self, result: NormalizeResult, first_load: bool, sorted_in: bool) -> None:
        """Write the checked batch into the table and its junction and line tables.

        ``first_load``: the table held no row, so no row can conflict: a plain ``INSERT``.
        ``sorted_in``: the table has its primary key while the rows go in, so they go in key order.
        """
        t, run = self.t, self.run_id
        name = sql.Identifier(t.name)
        main = result.objects[t.name]
        result.rejected_removed, main.deleted = self._remove_leaving_rows(result)

        linked_new = 0
        for c in t.self_refs():  # targets already in the table (a target new in this batch follows below)
            col = sql.Identifier(c.name)
            self._x(
                sql.SQL(
                    "UPDATE norm_checked c SET {col} = x.id FROM {name} x "
                    "WHERE x.doorloop_id = c.{ref} AND x.{gone} IS NULL"
                ).format(col=col, name=name, ref=ref_column(c), gone=_GONE)
            )
            # A row new to the table whose target is written by this batch too is linked before the
            # upsert, not after: updating a row in the transaction that inserted it re-runs every
            # foreign-key check of the row. It counts as linked, as it would have been after.
            # Rows the table already holds keep to the path below, so their counts stay the same.
            linked_new += self._x(
                sql.SQL(
                    "UPDATE norm_checked c SET {col} = x.id FROM norm_checked x "
                    "WHERE x.doorloop_id = c.{ref} AND x.err IS NULL AND c.err IS NULL AND c.{col} IS NULL "
                    "AND NOT EXISTS (SELECT 1 FROM {name} n WHERE n.doorloop_id = c.doorloop_id)"
                ).format(col=col, name=name, ref=ref_column(c))
            ).rowcount
        cols = [sql.Identifier(c.name) for c in t.columns]
        revived = self._x(
            sql.SQL(
                "SELECT count(*) FROM {name} n JOIN norm_checked c ON c.doorloop_id = n.doorloop_id "
                "WHERE c.err IS NULL AND n.{gone} IS NOT NULL"
            ).format(name=name, gone=_GONE)
        ).fetchone()[0]
        # In key order: the keys are hashes, so rows in arrival order land all over the primary
        # key's index, a page read and split per row once it outgrows memory (6.0 s against
        # 3.6 s sorted, for a first load of 1.5 M rows); sorted, each is appended. Without the
        # key (built at the end) the sort, 3.3 s of those rows on disk, buys nothing.
        inserted, written = self._upsert(
            sql.SQL(
                "INSERT INTO {name} AS t (id, doorloop_id, {cols}, normalized_at, last_run_id) "
                "SELECT id, doorloop_id, {cols}, now(), %s FROM norm_checked WHERE err IS NULL{order}"
            ).format(name=name, cols=sql.SQL(", ").join(cols), order=sql.SQL(" ORDER BY id" if sorted_in else "")),
            None
            if first_load
            else sql.SQL(
                "ON CONFLICT (doorloop_id) DO UPDATE SET {updates}, "
                "normalized_at = now(), last_run_id = EXCLUDED.last_run_id, {gone} = NULL "
                "WHERE ({old}) IS DISTINCT FROM ({new}) OR t.{gone} IS NOT NULL"
            ).format(gone=_GONE, **_changed_columns(cols)),
            (run,),
        )
        main.inserted = inserted + revived  # a gone row back counts as new to its readers
        main.updated = written - main.inserted
        if written and t.self_refs():
            # The links below join this table on `<self reference> IS NULL`: planned on the statistics
            # of the table before this write (or of it empty), PostgreSQL takes that for a rare value
            # and scans its index once per pending link (37 s for 844 links of 90k rows).
            self._x(sql.SQL("ANALYZE {}").format(name))
        for ch in t.children:
            self._sync_child(ch, result.objects[ch.name], first_load)
        result.warnings, result.references_resolved = self._record_pending_references()
        result.references_resolved += linked_new
        if t.children:
            self._x(sql.SQL("DROP TABLE {}").format(sql.SQL(", ").join(child_rows(ch) for ch in t.children)))

    def _remove_leaving_rows(self, result: NormalizeResult) -> tuple[int, int]:
        """Take rejected rows and rows whose raw row left out of the table; (rejected, all) that left.

        Only this asset's tables are written. A leaving row's junction and line rows are
        deleted, and references to it from this same table are set NULL and recorded
        pending, as a fresh run would have them. The row is marked gone, values kept, so
        rows of other tables that point at it keep true foreign keys until their own runs
        let go of it; then (this run or a later one) a gone row nothing points at is deleted.
        """
        t, run = self.t, self.run_id
        name, raw = sql.Identifier(t.name), sql.Identifier(t.raw_table)
        # The raw rows are joined (a row with no live one is left NULL), not probed with
        # ``NOT EXISTS``, which beside an ``OR`` runs once per row of the table.
        self._x(
            sql.SQL(
                "CREATE TEMP TABLE norm_leaving ON COMMIT DROP AS SELECT n.id, n.doorloop_id, "
                "n.doorloop_id IN (SELECT doorloop_id FROM norm_checked WHERE err IS NOT NULL) AS rejected "
                "FROM {name} n LEFT JOIN {raw} r ON r.id = n.doorloop_id AND {live} "
                "WHERE n.{gone} IS NULL AND (n.doorloop_id IN (SELECT doorloop_id FROM norm_checked WHERE err IS NOT NULL) "
                "OR r.id IS NULL)"
            ).format(name=name, gone=_GONE, raw=raw, live=_live(t))
        )
        rejected, leaving = self._x("SELECT count(*) FILTER (WHERE rejected), count(*) FROM norm_leaving").fetchone()
        if leaving:
            for ch in t.children:
                result.objects[ch.name].deleted += self._x(
                    sql.SQL("DELETE FROM {} WHERE {} IN (SELECT id FROM norm_leaving)").format(
                        sql.Identifier(ch.name), sql.Identifier(ch.parent_column)
                    )
                ).rowcount
            for c in t.self_refs():
                col = sql.Identifier(c.name)
                self._x(
                    sql.SQL(
                        "INSERT INTO {pending} (table_name, doorloop_id, column_name, target_table, target_doorloop_id) "
                        "SELECT %s, n.doorloop_id, %s, %s, l.doorloop_id "
                        "FROM {name} n JOIN norm_leaving l ON n.{col} = l.id WHERE n.{gone} IS NULL "
                        "AND n.id NOT IN (SELECT id FROM norm_leaving) ON CONFLICT DO NOTHING"
                    ).format(pending=_PENDING, name=name, col=col, gone=_GONE),
                    (t.name, c.name, t.name),
                )
                self._x(
                    sql.SQL(
                        "UPDATE {name} n SET {col} = NULL, normalized_at = now(), last_run_id = %s "
                        "WHERE n.{col} IN (SELECT id FROM norm_leaving)"
                    ).format(name=name, col=col),
                    (run,),
                )
            self._x(
                sql.SQL(
                    "UPDATE {name} n SET {gone} = now(), normalized_at = now(), last_run_id = %s "
                    "WHERE n.id IN (SELECT id FROM norm_leaving)"
                ).format(name=name, gone=_GONE),
                (run,),
            )
        # Locked first, so a referrer committed meanwhile is seen by the DELETE's fresh snapshot.
        self._x(sql.SQL("SELECT 1 FROM {name} WHERE {gone} IS NOT NULL FOR UPDATE").format(name=name, gone=_GONE))
        self._x(
            sql.SQL("DELETE FROM {name} n WHERE n.{gone} IS NOT NULL AND NOT ({referenced})").format(
                name=name, gone=_GONE, referenced=referenced_sql(t)
            )
        )
        self._x("DROP TABLE norm_leaving")
        return rejected, leaving

    def _record_pending_references(self) -> tuple[int, int]:
        """Re-record the batch's unresolved optional references, link references to this
        same table whose target is now here (and live), and drop entries of rows no longer held live.
        Returns (references of the batch without a target, self-references linked)."""
        t, run = self.t, self.run_id
        name = sql.Identifier(t.name)
        self._x(
            sql.SQL(
                "DELETE FROM {} p WHERE p.table_name = %s AND p.doorloop_id IN (SELECT doorloop_id FROM norm_checked)"
            ).format(_PENDING),
            (t.name,),
        )
        insert = pending_sql(t)
        if insert:
            self._x(insert)
        linked = 0
        for c in t.self_refs():
            col = sql.Identifier(c.name)
            linked += self._x(
                sql.SQL(
                    "UPDATE {name} n SET {col} = x.id, normalized_at = now(), last_run_id = %s FROM {pending} p "
                    "JOIN {name} x ON x.doorloop_id = p.target_doorloop_id AND x.{gone} IS NULL WHERE p.table_name = %s "
                    "AND p.column_name = %s AND n.doorloop_id = p.doorloop_id AND n.{col} IS NULL "
                    "AND n.{gone} IS NULL"
                ).format(name=name, col=col, pending=_PENDING, gone=_GONE),
                (run, t.name, c.name),
            ).rowcount
            self._x(
                sql.SQL(
                    "DELETE FROM {pending} p WHERE p.table_name = %s AND p.column_name = %s AND EXISTS "
                    "(SELECT 1 FROM {name} x WHERE x.doorloop_id = p.target_doorloop_id AND x.{gone} IS NULL)"
                ).format(pending=_PENDING, name=name, gone=_GONE),
                (t.name, c.name),
            )
        self._x(
            sql.SQL(
                "DELETE FROM {pending} p WHERE p.table_name = %s AND NOT EXISTS "
                "(SELECT 1 FROM {name} n WHERE n.doorloop_id = p.doorloop_id AND n.{gone} IS NULL)"
            ).format(pending=_PENDING, name=name, gone=_GONE),
            (t.name,),
        )
        dangling = self._x(
            sql.SQL(
                "SELECT count(*) FROM {} p WHERE p.table_name = %s "
                "AND p.doorloop_id IN (SELECT doorloop_id FROM norm_checked)"
            ).format(_PENDING),
            (t.name,),
        ).fetchone()[0]
        return dangling, linked

    def _upsert(
        self, insert: sql.Composable, conflict: sql.Composable | None, params: tuple[Any, ...] | None = None
    ) -> tuple[int, int]:
        """Run ``insert`` with its ``ON CONFLICT`` clause; (rows inserted, rows written).

        ``conflict`` None: the table was empty (a first load), so nothing can conflict and
        the plain ``INSERT`` skips the speculative insertion an upsert pays per row.
        """
        if conflict is None:
            inserted = self._x(insert, params).rowcount
            return inserted, inserted
        return self._x(
            sql.SQL(
                "WITH w AS ({} {} RETURNING (xmax = 0) AS new) SELECT count(*) FILTER (WHERE new), count(*) FROM w"
            ).format(insert, conflict),
            params,
        ).fetchone()

    def _sync_child(self, ch: Child, counts: ObjectCounts, first_load: bool) -> None:
        rows = child_rows(ch)
        self._x(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS {}").format(rows, child_sql(self.t, ch, first_load).rows)
        )
        if first_load:
            self._x(sql.SQL("DROP TABLE {}").format(child_elements(ch)))
        name, parent = sql.Identifier(ch.name), sql.Identifier(ch.parent_column)
        keys = [sql.Identifier(k) for k in ch.key]
        match = sql.SQL(" AND ").join(
            [sql.SQL("s.parent = t.{}").format(parent), *(sql.SQL("s.{k} = t.{k}").format(k=k) for k in keys)]
        )
        counts.deleted += self._x(
            sql.SQL(
                "DELETE FROM {name} t WHERE t.{parent} IN (SELECT id FROM norm_checked WHERE err IS NULL) "
                "AND NOT EXISTS (SELECT 1 FROM {rows} s WHERE {match})"
            ).format(name=name, parent=parent, rows=rows, match=match)
        ).rowcount
        cols = [sql.Identifier(c) for c in ch.all_columns]
        rest = [c for c in ch.all_columns if c not in (ch.parent_column, *ch.key)]
        conflict = (
            sql.SQL("DO UPDATE SET {updates} WHERE ({old}) IS DISTINCT FROM ({new})").format(
                **_changed_columns([sql.Identifier(c) for c in rest])
            )
            if rest
            else sql.SQL("DO NOTHING")
        )
        counts.inserted, written = self._upsert(
            sql.SQL("INSERT INTO {name} AS t ({cols}) SELECT {source} FROM {rows}").format(
                name=name,
                cols=sql.SQL(", ").join(cols),
                source=sql.SQL(", ").join([sql.SQL("parent"), *cols[1:]]),
                rows=rows,
            ),
            None
            if first_load
            else sql.SQL("ON CONFLICT ({key}) {conflict}").format(
                key=sql.SQL(", ").join([parent, *keys]), conflict=conflict
            ),
        )
        counts.updated = written - counts.inserted


def _changed_columns(cols: list[sql.Identifier]) -> dict[str, sql.Composable]:
    """``updates`` (``c = EXCLUDED.c``, …), ``old`` (``t.c``, …) and ``new`` (``EXCLUDED.c``, …) of an upsert."""
    return {
        "updates": sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in cols),
        "old": sql.SQL(", ").join(sql.SQL("t.{}").format(c) for c in cols),
        "new": sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(c) for c in cols),
    }
