"""What PostgreSQL itself guarantees about a table: its validated primary key and foreign keys.

A check need not scan a table for what a validated constraint already rules out (a repeated
or NULL key, a reference to a row that does not exist); the checks ask here first, and
scan as before when the constraint is not there (dropped by hand, or not yet validated).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

_CONSTRAINTS = """
SELECT c.contype, array_agg(a.attname::text ORDER BY k.ord), f.relname::text
FROM pg_constraint c
CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k (attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
LEFT JOIN pg_class f ON f.oid = c.confrelid
WHERE c.conrelid = to_regclass(quote_ident(%s)) AND c.convalidated AND c.contype IN ('p', 'f')
GROUP BY c.oid, c.contype, f.relname
"""


@dataclass(frozen=True)
class Enforced:
    """The validated constraints of one table (of the connection's warehouse schema)."""

    primary_key: tuple[str, ...] | None
    references: frozenset[tuple[str, str]]  # (column, referenced table) of each single-column foreign key


def enforced(conn: psycopg.Connection, table: str) -> Enforced:
    """What PostgreSQL enforces on ``table`` now (nothing, for a table that does not exist)."""
    primary_key, references = None, set()
    for kind, columns, target in conn.execute(_CONSTRAINTS, (table,)):
        if kind == "p":
            primary_key = tuple(columns)
        elif len(columns) == 1:
            references.add((columns[0], target))
    return Enforced(primary_key, frozenset(references))
