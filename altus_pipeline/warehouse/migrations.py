"""SQL objects under ``sql/`` and the runner that applies them idempotently.

Each file holds one object and is named exactly like it. A file named with ``{entity}``
is a template rendered once per entity of the registry, with identifiers quoted by
psycopg, so per-entity tables are declared once and follow the registry.
Layers apply in ``LAYERS`` order; within a layer templates come first (others, such as
views, read the tables they create), then files by name, except that a file whose
``-- requires: a, b`` line names objects of its layer comes after them (foreign keys
need their target tables first).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from psycopg import sql

from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.warehouse.db import Warehouse

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LAYERS: tuple[str, ...] = ("ops", "raw", "normalized", "kpi", "views")
TEMPLATE_MARK = "{entity}"
_REQUIRES = re.compile(r"^--\s*requires:\s*(.+)$", re.MULTILINE)
_MIGRATION_LOCK = 7_201_101  # pg_advisory_xact_lock key: one migrator at a time


@dataclass(frozen=True)
class SqlObject:
    """One warehouse object: its name, layer, source file and the SQL that creates it."""

    name: str
    layer: str
    path: Path
    statement: sql.Composable

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes() + self.name.encode()).hexdigest()


def _render_template(path: Path, layer: str) -> Iterator[SqlObject]:
    text = path.read_text()
    for entity in ENTITIES.values():
        name = path.stem.replace(TEMPLATE_MARK, entity.name)
        statement = sql.SQL(text).format(
            table=sql.Identifier(name),
            business_date_index=sql.Identifier(f"{name}_business_date_idx"),
        )
        yield SqlObject(name=name, layer=layer, path=path, statement=statement)


def sql_objects(sql_dir: Path | None = None) -> list[SqlObject]:
    """Every object the ``sql/`` folder declares, in the order they must be created."""
    sql_dir = sql_dir or SQL_DIR
    objects: list[SqlObject] = []
    for layer in LAYERS:
        files = sorted((sql_dir / layer).glob("*.sql"), key=lambda p: (TEMPLATE_MARK not in p.name, p.name))
        for path in _required_first(files):
            if TEMPLATE_MARK in path.name:
                objects.extend(_render_template(path, layer))
            else:
                objects.append(SqlObject(path.stem, layer, path, sql.SQL(path.read_text())))
    return objects


def _required_first(files: list[Path]) -> list[Path]:
    """``files`` in order, each moved after the files its ``-- requires:`` line names."""
    by_name = {p.stem: p for p in files}
    ordered: list[Path] = []
    visiting: set[str] = set()

    def visit(path: Path) -> None:
        if path in ordered:
            return
        if path.stem in visiting:
            raise ValueError(f"sql/{path.parent.name}: a cycle of '-- requires:' through {path.name}")
        visiting.add(path.stem)
        for match in _REQUIRES.findall(path.read_text()):
            for name in (n.strip() for n in match.split(",")):
                if name in by_name:
                    visit(by_name[name])
        visiting.discard(path.stem)
        ordered.append(path)

    for path in files:
        visit(path)
    return ordered


def migrate(warehouse: Warehouse) -> list[str]:
    """Apply every new or changed object; return the names applied (empty when up to date)."""
    applied: list[str] = []
    with warehouse.connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(warehouse.schema)))
        conn.execute(_ledger().statement)
        done = dict(conn.execute("SELECT object_name, checksum FROM doorloop_schema_migrations").fetchall())
        for obj in sql_objects():
            if done.get(obj.name) == obj.checksum:
                continue
            conn.execute(obj.statement)
            conn.execute(
                """INSERT INTO doorloop_schema_migrations (object_name, file_path, checksum)
                   VALUES (%s, %s, %s)
                   ON CONFLICT (object_name) DO UPDATE
                   SET file_path = EXCLUDED.file_path, checksum = EXCLUDED.checksum, applied_at = now()""",
                (obj.name, str(obj.path.relative_to(SQL_DIR)), obj.checksum),
            )
            applied.append(obj.name)
    return applied


def _ledger() -> SqlObject:
    """The migrations table itself, created before the runner reads it."""
    path = SQL_DIR / "ops" / "doorloop_schema_migrations.sql"
    return SqlObject(path.stem, "ops", path, sql.SQL(path.read_text()))
