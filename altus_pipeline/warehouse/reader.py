"""A read-only reporting role: ``altus db grant-reader``.

A reader may SELECT the reporting objects and nothing else: the KPI tables and views
(``sql/kpi/``) and the ``get_full_*`` views (``sql/views/``), the objects of
``READ_LAYERS`` as ``sql/`` declares them, so a new view is covered by the next run. Raw
payloads, staging, the DLQ, the ops tables and Dagster's schema stay closed: PostgreSQL
grants nothing on a table by default, and nothing here grants more than these objects.

Supabase's Data API serves the schemas it is told to expose, with the privileges of the
role of the request. ``reporting_schema`` builds such a schema: one ``security_invoker``
view per reporting object, so a request reads with its own role's grants and row-level
security; RLS is enabled on the KPI tables with a read policy per reader role (the
table's owner, which the pipeline runs as, is not subject to it).

Migrations keep the grants and the reporting views across a rebuild of the objects
(``kept_access``).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.kept_access import grants, regrant
from altus_pipeline.warehouse.migrations import sql_objects

READ_LAYERS = ("kpi", "views")
_RESERVED_SCHEMAS = ("public", "dagster", "pg_catalog", "information_schema")


class ReaderError(ValueError):
    """A grant that cannot be made as asked (the role, a schema), with what to do instead."""


@dataclass(frozen=True)
class ReaderGrant:
    """What ``grant_reader`` did: the role, whether it was created, the objects it may read."""

    role: str
    created: bool
    objects: tuple[str, ...]
    rls_tables: tuple[str, ...]
    reporting_schema: str | None


def reporting_objects() -> list[str]:
    """Names of the objects a reader may SELECT, from ``sql/``: every object of ``READ_LAYERS``."""
    return [o.name for o in sql_objects() if o.layer in READ_LAYERS]


def grant_reader(
    warehouse: Warehouse,
    role: str,
    *,
    create: bool = False,
    password: str | None = None,
    reporting_schema: str | None = None,
) -> ReaderGrant:
    """Grant ``role`` read access to the reporting objects (idempotent), in one transaction.

    ``create`` makes the role (LOGIN) when missing; ``password`` (only with ``create``) is
    hashed by libpq on this side, so neither the statement nor the server's log holds it.
    A superuser, a role that bypasses RLS, or the warehouse's own role is refused: it
    would not be read-only. Expects a migrated warehouse.
    """
    if password is not None and not create:
        raise ReaderError("a password is set only with --create")
    if reporting_schema is not None and reporting_schema in (*_RESERVED_SCHEMAS, warehouse.schema):
        raise ReaderError(
            f"--schema {reporting_schema}: use a schema of its own for the reporting views "
            f"(not public, dagster, a system schema or the warehouse schema {warehouse.schema})"
        )
    names = reporting_objects()
    with warehouse.connect() as conn:
        created = _ensure_role(conn, role, create, password)
        kinds = dict(
            conn.execute(
                "SELECT relname, relkind FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                "AND relname = ANY(%s)",
                (names,),
            ).fetchall()
        )
        missing = [n for n in names if n not in kinds]
        if missing:
            raise ReaderError(f"schema {warehouse.schema} lacks {', '.join(missing)}: run `altus db migrate` first")
        who = sql.Identifier(role)
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(warehouse.schema), who))
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(sql.SQL(", ").join(sql.Identifier(n) for n in names), who)
        )
        tables = tuple(n for n in names if kinds[n] in ("r", "p"))
        for table in tables:
            _read_policy(conn, table, role)
        if reporting_schema is not None:
            _reporting_views(conn, warehouse.schema, reporting_schema, names, role)
            for table in tables:
                conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(sql.Identifier(table)))
    return ReaderGrant(role, created, tuple(names), tables, reporting_schema)


def _ensure_role(conn: psycopg.Connection, role: str, create: bool, password: str | None) -> bool:
    """Check (or create) ``role``; True when it was created here."""
    row = conn.execute(
        "SELECT rolsuper OR rolbypassrls, rolname = current_user FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone()
    if row is None and not create:
        raise ReaderError(f"role {role} does not exist: pass --create to create it (LOGIN), or create it first")
    if row is not None and (row[0] or row[1]):
        raise ReaderError(
            f"role {role} is a superuser, bypasses row-level security or is the warehouse's own role: "
            "it would not be read-only; name a role of its own"
        )
    options = sql.SQL("LOGIN")
    if password is not None:
        hashed = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
        options = sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(hashed))
    if row is None:
        conn.execute(sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(role), options))
        return True
    if password is not None:
        conn.execute(sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(role), options))
    return False


def policy_name(role: str) -> str:
    """The read policy of ``role`` on a KPI table."""
    return f"reader_{role}"[:63]


def _read_policy(conn: psycopg.Connection, table: str, role: str) -> None:
    name, who, target = sql.Identifier(policy_name(role)), sql.Identifier(role), sql.Identifier(table)
    conn.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(name, target))
    conn.execute(sql.SQL("CREATE POLICY {} ON {} FOR SELECT TO {} USING (true)").format(name, target, who))


def _reporting_views(conn: psycopg.Connection, schema: str, reporting: str, names: list[str], role: str) -> None:
    """``reporting.<name>``: a ``security_invoker`` view of each reporting object, readable by ``role``.

    Each is recreated (its source's columns may have changed) with the grants it had.
    """
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(reporting)))
    kept = grants(conn, reporting, names)
    for name in names:
        view = sql.Identifier(reporting, name)
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(view))
        conn.execute(
            sql.SQL("CREATE VIEW {} WITH (security_invoker = true) AS SELECT * FROM {}").format(
                view, sql.Identifier(schema, name)
            )
        )
        conn.execute(
            sql.SQL("COMMENT ON VIEW {} IS {}").format(
                view, sql.Literal(f"{schema}.{name}, read with the privileges of the requesting role")
            )
        )
    regrant(conn, kept)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(reporting), sql.Identifier(role)))
    conn.execute(
        sql.SQL("GRANT SELECT ON {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(reporting, n) for n in names), sql.Identifier(role)
        )
    )
