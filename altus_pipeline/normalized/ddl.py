"""Render the DDL of the normalized tables from their specs into ``sql/normalized/``.

The files are generated so a column is declared once (in ``spec.py``) yet every object
still has its own readable SQL file, named like it, as the roadmap requires. Run
``python -m altus_pipeline.normalized.ddl`` after editing the spec; a test fails while a
file is out of date. Line 1 of each says so (``HEADER``); the layer's two other files, the
normalizer's bookkeeping, start with ``HAND_WRITTEN`` instead. A ``-- requires:`` line
names the tables a file's foreign keys point at; the migrations create those first.

A foreign key between the tables of two assets has no ``ON DELETE`` action, so the
database itself guarantees that no asset's run reaches into another asset's table (a row
others still point at is marked gone instead, see ``transform.py``). Only a table's own
links cascade: a junction or line table's parent column (``ON DELETE CASCADE``) and a
reference to the same table (``ON DELETE SET NULL``).

When any of these files changes, ``altus db migrate`` (every command runs it) drops and
recreates the whole normalized layer and the views on it; the next normalize rebuilds it
from raw.
"""

from __future__ import annotations

import sys
from pathlib import Path

from psycopg import sql

from altus_pipeline.normalized.spec import GONE, TABLES, Child, Column, Table
from altus_pipeline.warehouse.migrations import SQL_DIR

LAYER_DIR = SQL_DIR / "normalized"
_SQL_TYPES = {
    "text": "text",
    "enum": "text",
    "date": "date",
    "timestamptz": "timestamptz",
    "money": "numeric(14, 2)",
    "numeric": "numeric",
    "integer": "bigint",
    "boolean": "boolean",
    "jsonb": "jsonb",
    "ref": "uuid",
    "ref_id": "text",
}
_RESERVED = frozenset({"end", "from", "to", "order", "user", "table", "default", "check", "primary", "references"})
HEADER = "-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec."
# Line 1 of the layer's other files: the normalizer's bookkeeping, written by hand, not rendered.
HAND_WRITTEN = "-- Hand-written: not generated from altus_pipeline/normalized/spec.py."


def quote(name: str) -> str:
    """``name`` as the files show it: quoted only where a reserved word needs it, so the DDL stays readable."""
    return sql.Identifier(name).as_string() if name in _RESERVED else name


def _literals(values: tuple[str, ...]) -> str:
    """A ``CHECK … IN (…)`` list: the values as SQL string literals."""
    return sql.SQL(", ").join(map(sql.Literal, values)).as_string()


def column_ddl(c: Column, table: str, key_ref: bool = False) -> str:
    """One column of ``table``; a reference to ``table`` itself is the only one with an ``ON DELETE`` action."""
    parts = [quote(c.name), _SQL_TYPES[c.kind]]
    if c.not_null or key_ref:
        parts.append("NOT NULL")
    if c.kind == "enum":
        parts.append(f"CHECK ({quote(c.name)} IN ({_literals(c.domain)}))")
    if c.kind == "ref":
        parts.append(f"REFERENCES {c.target} (id)" + (" ON DELETE SET NULL" if c.target == table else ""))
    source = f"  -- {c.source}" if c.source != "*" else ""
    return " ".join(parts) + source


def _indexes(table: str, columns: list[str]) -> list[str]:
    return [f"CREATE INDEX IF NOT EXISTS {table}_{c}_idx ON {table} ({quote(c)});" for c in columns]


def _requires(names: list[str]) -> list[str]:
    return [f"-- requires: {', '.join(names)}"] if names else []


def table_ddl(t: Table) -> str:
    cols = [
        "id uuid PRIMARY KEY",
        "doorloop_id text NOT NULL UNIQUE",
        *(column_ddl(c, t.name) for c in t.columns),
        "normalized_at timestamptz NOT NULL DEFAULT now()",
        "last_run_id text",
        f"{GONE} timestamptz  -- left, but rows of other tables still point at it (NULL: live)",
    ]
    body = _join_columns(cols)
    requires = [r for r in dict.fromkeys(c.target for c in t.columns if c.kind == "ref") if r != t.name]
    return "\n".join(
        [
            HEADER,
            f"-- {t.description}",
            f"-- Source: {t.raw_table}" + (f" where {t.where}" if t.where else "") + ".",
            *_requires(requires),
            f"CREATE TABLE IF NOT EXISTS {t.name} (",
            body,
            ");",
            *_indexes(t.name, [c.name for c in t.refs() if c.name != "id"]),
            f"CREATE INDEX IF NOT EXISTS {t.name}_{GONE}_idx ON {t.name} (id) WHERE {GONE} IS NOT NULL;",
            "",
        ]
    )


def child_ddl(parent: Table, ch: Child) -> str:
    cols = [f"{ch.parent_column} uuid NOT NULL REFERENCES {parent.name} (id) ON DELETE CASCADE"]
    if ch.role:
        cols.append(f"{ch.role} text NOT NULL CHECK ({ch.role} IN ({_literals(ch.arrays)}))")
    if ch.lines:
        cols.append("line_number integer NOT NULL")
    cols += [column_ddl(c, ch.name, key_ref=c.name in ch.key) for c in ch.columns]
    cols.append(f"PRIMARY KEY ({', '.join((ch.parent_column, *ch.key))})")
    requires = [parent.name, *dict.fromkeys(c.target for c in ch.columns if c.kind == "ref")]
    return "\n".join(
        [
            HEADER,
            f"-- {ch.description}",
            f"-- Source: {parent.raw_table} {', '.join(a + '[]' for a in ch.arrays)}.",
            *_requires(list(dict.fromkeys(requires))),
            f"CREATE TABLE IF NOT EXISTS {ch.name} (",
            _join_columns(cols),
            ");",
            *_indexes(ch.name, [c.name for c in ch.columns if c.kind == "ref"]),
            "",
        ]
    )


def _join_columns(cols: list[str]) -> str:
    """Column lines, commas placed before any trailing ``-- source`` comment."""
    out = []
    for i, line in enumerate(cols):
        code, sep, comment = line.partition("  -- ")
        comma = "," if i < len(cols) - 1 else ""
        out.append(f"    {code}{comma}" + (f"  -- {comment}" if sep else ""))
    return "\n".join(out)


def rendered() -> dict[str, str]:
    """File name → content of every generated file."""
    files: dict[str, str] = {}
    for t in TABLES.values():
        files[f"{t.name}.sql"] = table_ddl(t)
        for ch in t.children:
            files[f"{ch.name}.sql"] = child_ddl(t, ch)
    return files


def write(directory: Path = LAYER_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in rendered().items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(name)
    return changed


if __name__ == "__main__":
    written = write()
    sys.stdout.write("".join(f"wrote sql/normalized/{n}\n" for n in written) or "sql/normalized is up to date\n")
