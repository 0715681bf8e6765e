"""SQL objects under ``sql/`` and the runner that applies them idempotently.

Each file holds one object and is named exactly like it. A file named with ``{entity}``
is a template rendered once per entity of the registry, with identifiers quoted by
psycopg, so per-entity tables are declared once and follow the registry.
Layers apply in ``LAYERS`` order; within a layer templates come first (others, such as
views, read the tables they create), then files by name, except that a file whose
``-- requires: a, b`` line names objects of its layer comes after them (foreign keys
need their target tables first).

A changed file is applied again. Its ``CREATE … IF NOT EXISTS`` would leave an existing
object as it was, so derived objects are rebuilt instead: a change anywhere in the
normalized layer (tables tied together by foreign keys, all rebuilt from raw) drops and
recreates the whole layer, its watermarks with it, so the next normalize re-reads raw; a
changed view or materialized view is dropped and recreated; and so is every view that
reads a dropped object. Raw, ops and KPI tables hold what cannot be rebuilt, and are never
dropped here. What was granted on a dropped object, and the views other schemas built on
it (``altus db grant-reader --schema``), are put back once it is recreated (``kept_access``).
Every run ends by bringing each object's and column's ``COMMENT`` up to date (``comments``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.project_files import project_file
from altus_pipeline.warehouse.comments import apply_comments
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.kept_access import DEPENDENTS, SavedAccess, restore_access, save_access

SQL_DIR = project_file("sql")
LAYERS: tuple[str, ...] = ("ops", "raw", "normalized", "legal", "kpi", "views")
REBUILT_LAYER = "normalized"  # derived from raw through foreign keys: rebuilt as a whole
TEMPLATE_MARK = "{entity}"
_REQUIRES = re.compile(r"^--\s*requires:\s*(.+)$", re.MULTILINE)
_MIGRATION_LOCK = 7_201_101  # pg_advisory_xact_lock key: one migrator at a time
_MIGRATED: set[tuple[str, str]] = set()  # (url, schema) this process has brought up to date


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
        objects = sql_objects()
        rebuilt, saved = _rebuild(conn, warehouse.schema, objects, done)
        for name in rebuilt:
            done.pop(name, None)
        for obj in objects:
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
        restore_access(conn, saved)
        apply_comments(conn, objects)
    _MIGRATED.add((warehouse.url, warehouse.schema))
    return applied


def migrate_once(warehouse: Warehouse) -> None:
    """``migrate`` unless this process already has: the run a command starts after migrating
    (``cli.session``) does not look again, as even a migration with nothing to apply reads
    every file of ``sql/`` and the ledger (a tenth of a second)."""
    if (warehouse.url, warehouse.schema) not in _MIGRATED:
        migrate(warehouse)


_KIND = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}
_DEPENDENT_VIEWS = (
    DEPENDENTS
    + """
SELECT c.relname, c.relkind FROM dropped JOIN pg_class c ON c.oid = dropped.oid
WHERE c.relnamespace = current_schema()::regnamespace
"""
)


def _rebuild(conn, schema: str, objects: list[SqlObject], done: dict[str, str]) -> tuple[list[str], SavedAccess]:
    """Drop the derived objects a changed file must rebuild (see the module docstring); their names,
    and the grants and other schemas' views on them, for ``restore_access`` once they are back."""
    changed = [o for o in objects if o.name in done and done[o.name] != o.checksum]
    if not changed:
        return [], SavedAccess()
    kinds = dict(
        conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind IN ('r', 'p', 'v', 'm')"
        ).fetchall()
    )
    names = {o.name for o in changed if kinds.get(o.name) in ("v", "m")}
    if any(o.layer == REBUILT_LAYER for o in changed):
        names |= {o.name for o in objects if o.layer == REBUILT_LAYER}
    if not names:
        return [], SavedAccess()
    dropping = dict(conn.execute(_DEPENDENT_VIEWS, (sorted(names),)).fetchall())
    declared = {o.name for o in objects}
    strays = sorted(n for n, kind in dropping.items() if kind in ("v", "m") and n not in declared)
    if strays:
        raise RuntimeError(
            f"rebuilding {', '.join(sorted(names))} would drop views not under sql/: {', '.join(strays)}"
        )
    saved = save_access(conn, schema, sorted(dropping))
    for obj in reversed(objects):
        if obj.name in dropping:
            conn.execute(
                sql.SQL("DROP {} IF EXISTS {} CASCADE").format(
                    sql.SQL(_KIND[dropping[obj.name]]), sql.Identifier(obj.name)
                )
            )
    return [o.name for o in objects if o.name in dropping], saved


def _ledger() -> SqlObject:
    """The migrations table itself, created before the runner reads it."""
    path = SQL_DIR / "ops" / "doorloop_schema_migrations.sql"
    return SqlObject(path.stem, "ops", path, sql.SQL(path.read_text()))
