"""Grants and outside views that survive a migration's rebuild of warehouse objects.

Migrations drop and recreate a view whose file changed (and every view on the normalized
layer when it is rebuilt); ``DROP … CASCADE`` also drops the views other schemas built on
them (the reporting schema of ``altus db grant-reader``). ``save_access`` before the drop
and ``restore_access`` once the objects are recreated carry the grants and those views
across, so a rebuild never silently closes a reader's access.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

_GRANTS = """
SELECT n.nspname, c.relname, a.privilege_type, r.rolname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.grantee <> c.relowner
"""
# The warehouse objects named by %s and every view built on them, in any schema, transitively.
DEPENDENTS = """
WITH RECURSIVE dropped(oid) AS (
    SELECT c.oid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s)
    UNION
    SELECT r.ev_class FROM dropped d
    JOIN pg_depend dep ON dep.refobjid = d.oid AND dep.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite r ON r.oid = dep.objid
    WHERE r.ev_class <> d.oid
)
"""
_OUTSIDE_DEPENDENTS = (
    DEPENDENTS
    + """
SELECT n.nspname, c.relname, pg_get_viewdef(c.oid), coalesce(c.reloptions, '{}'), obj_description(c.oid, 'pg_class')
FROM dropped JOIN pg_class c ON c.oid = dropped.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relnamespace <> current_schema()::regnamespace AND c.relkind = 'v'
ORDER BY c.oid
"""
)


@dataclass
class SavedAccess:
    """Grants on objects about to be dropped, and the views of other schemas that read them."""

    grants: list[tuple[str, str, str, str]] = field(default_factory=list)
    views: list[tuple[str, str, str, list[str], str | None]] = field(default_factory=list)


def grants(conn: psycopg.Connection, schema: str, names: list[str]) -> list[tuple[str, str, str, str]]:
    return conn.execute(_GRANTS, (schema, names)).fetchall()


def regrant(conn: psycopg.Connection, kept: list[tuple[str, str, str, str]]) -> None:
    for schema, name, privilege, grantee in kept:
        conn.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(privilege), sql.Identifier(schema, name), sql.Identifier(grantee)
            )
        )


def save_access(conn: psycopg.Connection, schema: str, names: list[str]) -> SavedAccess:
    """Before objects ``names`` of ``schema`` are dropped: their grants and the outside views on them."""
    views = [
        (ns, name, definition, list(options), comment)
        for ns, name, definition, options, comment in conn.execute(_OUTSIDE_DEPENDENTS, (names,)).fetchall()
    ]
    kept = grants(conn, schema, names)
    for ns in {v[0] for v in views}:
        kept += grants(conn, ns, [v[1] for v in views if v[0] == ns])
    return SavedAccess(kept, views)


def restore_access(conn: psycopg.Connection, saved: SavedAccess) -> list[str]:
    """After the objects are recreated (search_path: the warehouse schema): the views, then the grants.

    A view that no longer fits what it reads (a column it names is gone) is left out rather
    than failing the migration, and so are the grants on it; returns their names
    (``altus db grant-reader --schema`` builds them again).
    """
    left_out: set[tuple[str, str]] = set()
    for ns, name, definition, options, comment in saved.views:
        view = sql.Identifier(ns, name)
        with_options = (
            sql.SQL(" WITH ({})").format(sql.SQL(", ").join(map(sql.SQL, options))) if options else sql.SQL("")
        )
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("CREATE VIEW {}{} AS {}").format(
                        view, with_options, sql.SQL(definition.rstrip().rstrip(";"))
                    )
                )
        except psycopg.Error:
            left_out.add((ns, name))
            continue
        if comment is not None:
            conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(view, sql.Literal(comment)))
    regrant(conn, [g for g in saved.grants if (g[0], g[1]) not in left_out])
    return sorted(f"{ns}.{name}" for ns, name in left_out)
