"""``COMMENT ON`` every table, view and column of the warehouse, from where each fact is written.

Nothing here is a second copy of a description; each comment is read from its one source:

- a normalized table and its columns: the spec (``normalized/meaning.py``, the text
  ``docs/data_model.md`` shows);
- ``kpi_daily_snapshot``'s columns: their definitions in ``docs/kpis.md`` (section
  "Columns", without the worked example);
- any other object: the leading ``--`` lines of its SQL file, and for a column the trailing
  ``-- note`` on the line that defines (or, in a view, selects) it;
- a view column that passes a column through unchanged: that column's comment, named
  (``normalized_units.beds: …``). PostgreSQL reports the origin itself (the table and
  column of each output column, as it tells any client), so nothing is parsed by hand.

Migrations apply them after every run, writing only the comments that differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import pq, sql

from altus_pipeline.normalized.meaning import column_comments
from altus_pipeline.normalized.spec import TABLES, Child, Table
from altus_pipeline.project_files import project_file

KPI_DOC = project_file("docs/kpis.md")
KPI_TABLE = "kpi_daily_snapshot"
_KIND = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}
_IDENT = r'"[^"]+"|[A-Za-z_][A-Za-z0-9_]*'
_ADD_COLUMN = re.compile(rf"ADD COLUMN (?:IF NOT EXISTS )?({_IDENT})", re.IGNORECASE)
_FIRST = re.compile(rf"^\s*({_IDENT})")
_LAST = re.compile(rf"({_IDENT})\s*,?\s*$")


class SqlFile(Protocol):
    """What a ``migrations.SqlObject`` offers here."""

    name: str
    path: Path


def header_comment(path: Path) -> str:
    """The leading ``--`` lines of a SQL file (less ``requires:`` and how it is written): what the object is for."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("--"):
            break
        text = line[2:].strip()
        if not text.startswith(("requires:", "Generated from", "Hand-written:")):
            lines.append(text)
    return " ".join(lines)


def column_notes(path: Path, columns: Iterable[str]) -> dict[str, str]:
    """Trailing ``-- note``s of a SQL file, by the column of ``columns`` their line defines or selects.

    The column is the one after ``ADD COLUMN``, else the line's first word (a table's
    column definition), else its last (a view's ``… AS name,``).
    """
    known = set(columns)
    notes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        code, sep, note = line.partition(" --")
        if not sep or not code.strip() or not note.strip():
            continue
        for pattern in (_ADD_COLUMN, _FIRST, _LAST):
            match = pattern.search(code)
            name = match and match.group(1).strip('"')
            if name in known:
                notes[name] = note.strip()
                break
    return notes


def kpi_definitions(path: Path = KPI_DOC) -> dict[str, str]:
    """Each ``### column`` of the "Columns" section of ``docs/kpis.md``: its text up to the example."""
    section = path.read_text().split("\n## Columns\n", 1)[1].split("\n## ", 1)[0]
    definitions = {}
    for block in re.split(r"^### ", section, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        definitions[name.strip()] = " ".join(body.split()).split(" Example:")[0].replace("`", "")
    return definitions


def _spec() -> dict[str, tuple[Table, Child | None]]:
    tables: dict[str, tuple[Table, Child | None]] = {}
    for t in TABLES.values():
        tables[t.name] = (t, None)
        tables.update({ch.name: (t, ch) for ch in t.children})
    return tables


def _origins(conn: psycopg.Connection, definition: str) -> list[tuple[int, int]]:
    """(table oid, column number) of each output column of a view's query (0, 0 when computed).

    The query is only described, not planned or run: the server's row description names
    the origin of every column that is a plain column of a table or view the query reads.
    """
    query = sql.SQL("SELECT * FROM ({}) v").format(sql.SQL(definition.rstrip().rstrip(";"))).as_bytes(conn)
    prepared = conn.pgconn.prepare(b"", query)
    if prepared.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.DatabaseError((prepared.error_message or b"").decode(errors="replace"))
    described = conn.pgconn.describe_prepared(b"")
    return [(described.ftable(i), described.ftablecol(i)) for i in range(described.nfields)]


def wanted(conn: psycopg.Connection, objects: list[SqlFile]) -> dict[tuple[str, str | None], str]:
    """Every comment the objects should carry: (relation, None) for the relation, (relation, column)."""
    relations: dict[str, tuple[int, str]] = {}
    definitions: dict[str, str] = {}
    for oid, name, kind, definition in conn.execute(
        "SELECT oid, relname, relkind, CASE WHEN relkind IN ('v', 'm') THEN pg_get_viewdef(oid) END FROM pg_class "
        "WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p', 'v', 'm')"
    ):
        relations[name] = (oid, kind)
        definitions[name] = definition
    by_oid = {oid: name for name, (oid, _) in relations.items()}
    columns: dict[str, dict[int, str]] = {}
    for oid, number, column in conn.execute(
        "SELECT attrelid, attnum, attname FROM pg_attribute WHERE attrelid = ANY(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attrelid, attnum",
        ([oid for oid, _ in relations.values()],),
    ):
        columns.setdefault(by_oid[oid], {})[number] = column
    spec = _spec()
    want: dict[tuple[str, str | None], str] = {}
    root: dict[tuple[str, str], tuple[str, str]] = {}  # an inherited column: the column it passes through
    for o in objects:
        if o.name not in relations:
            continue
        oid, kind = relations[o.name]
        names = columns.get(o.name, {})
        if o.name in spec:
            table, child = spec[o.name]
            want[(o.name, None)] = (child or table).description
            notes = column_comments(table, child)
        else:
            want[(o.name, None)] = header_comment(o.path).replace("{table}", o.name)
            notes = {**(kpi_definitions() if o.name == KPI_TABLE else {}), **column_notes(o.path, names.values())}
        for column, text in notes.items():
            want[(o.name, column)] = text
        if kind in ("v", "m"):
            for (source, number), column in zip(_origins(conn, definitions[o.name]), names.values(), strict=False):
                if column in notes or source not in by_oid:
                    continue
                origin = root.get(
                    (by_oid[source], columns[by_oid[source]][number]), (by_oid[source], columns[by_oid[source]][number])
                )
                if origin in want:
                    root[(o.name, column)] = origin
                    want[(o.name, column)] = f"{origin[0]}.{origin[1]}: {want[origin]}"
    return {key: text for key, text in want.items() if text}


def apply_comments(conn: psycopg.Connection, objects: list[SqlFile]) -> int:
    """Write the comments that differ from ``wanted`` in one round trip; how many were written."""
    have = {
        (rel, col): text
        for rel, col, text in conn.execute(
            "SELECT c.relname, a.attname, d.description FROM pg_description d "
            "JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0 "
            "WHERE c.relnamespace = current_schema()::regnamespace"
        )
    }
    kinds = dict(
        conn.execute("SELECT relname, relkind FROM pg_class WHERE relnamespace = current_schema()::regnamespace")
    )
    statements = []
    for (relation, column), text in wanted(conn, objects).items():
        if have.get((relation, column)) == text:
            continue
        target = (
            sql.SQL("COLUMN {}").format(sql.Identifier(relation, column))
            if column
            else sql.SQL("{} {}").format(sql.SQL(_KIND[kinds[relation]]), sql.Identifier(relation))
        )
        statements.append(sql.SQL("COMMENT ON {} IS {}").format(target, sql.Literal(text)))
    if statements:
        conn.execute(sql.SQL("; ").join(statements))
    return len(statements)
