"""What PostgreSQL itself guarantees about a table: its validated primary key and foreign keys.

A check need not scan a table for what a validated constraint already rules out (a repeated
or NULL key, a reference to a row that does not exist); the checks ask here first, and
scan as before when the constraint is not there (dropped by hand, or not yet validated).

A first load of millions of rows can have its foreign keys checked once, set-based, rather
than row by row (``checked_once``), and its indexes and keys built once, by sorting, rather
than grown row by row (``indexed_once``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


# (drop, create) statements of each foreign key of the tables named in %(tables)s, as the catalog has it
_FOREIGN_KEYS = """
SELECT format('ALTER TABLE %%I DROP CONSTRAINT %%I', t.relname, c.conname),
       format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, c.conname, pg_get_constraintdef(c.oid))
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE c.contype = 'f' AND c.conrelid = ANY (SELECT to_regclass(quote_ident(n)) FROM unnest(%(tables)s::text[]) AS n)
ORDER BY t.relname, c.conname
"""
# (drop, create, table) of each index of those tables that backs no constraint, and of each
# unique or primary key no foreign key relies on (table: the table of a primary key, else NULL)
_INDEXES_AND_KEYS = """
SELECT format('DROP INDEX %%I', c.relname), pg_get_indexdef(i.indexrelid), NULL::text
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = ANY (SELECT to_regclass(quote_ident(n)) FROM unnest(%(tables)s::text[]) AS n)
AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
UNION ALL
SELECT format('ALTER TABLE %%I DROP CONSTRAINT %%I', t.relname, k.conname),
       format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, k.conname, pg_get_constraintdef(k.oid)),
       CASE k.contype WHEN 'p' THEN t.relname::text END
FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
WHERE k.contype IN ('u', 'p')
AND k.conrelid = ANY (SELECT to_regclass(quote_ident(n)) FROM unnest(%(tables)s::text[]) AS n)
AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)
ORDER BY 1
"""


@contextmanager
def _made_again_at_end(
    conn: psycopg.Connection, catalog_query: str, tables: Sequence[str]
) -> Iterator[list[tuple[str | None, ...]]]:
    """Drop what ``catalog_query`` lists for ``tables``, yield its rows, then create each again.

    Each row is (drop, create, …). On an error nothing is created again; the caller's
    rollback restores what was dropped.
    """
    statements = conn.execute(catalog_query, {"tables": list(tables)}).fetchall()
    for drop, *_ in statements:
        conn.execute(drop)
    yield statements
    for _, create, *_ in statements:
        conn.execute(create)


@contextmanager
def checked_once(conn: psycopg.Connection, tables: Sequence[str]) -> Iterator[int]:
    """Within the caller's transaction, check the foreign keys of ``tables`` once, at the end.

    PostgreSQL checks a foreign key by a trigger per inserted row: a probe of the target's
    key and a row lock, about 4 µs each, which is a third of a first normalize at scale
    (30 M checks). Each foreign key of ``tables`` is dropped on entry and added back, as
    the catalog had it, on a clean exit: adding it validates every row with one join.

    Dropping a foreign key locks the table it references exclusively until the
    transaction ends, so this is for a first load, when no one reads those rows yet.
    Yields how many foreign keys are checked at the end.
    """
    with _made_again_at_end(conn, _FOREIGN_KEYS, tables) as statements:
        yield len(statements)


@contextmanager
def indexed_once(conn: psycopg.Connection, tables: Sequence[str]) -> Iterator[frozenset[str]]:
    """Within the caller's transaction, build the indexes and keys of ``tables`` at the end.

    An index grown row by row costs a search and an insert per row (8 of the 18 s of a
    1.5 M-row first insert; the unique ``doorloop_id``, of random text, 7 of 12 s); built by
    ``CREATE INDEX`` it is one sort. Each index, unique key and primary key no foreign key
    relies on is dropped on entry and made again, as the catalog had it, on a clean exit (a
    key checks its rows as it is built). Entered inside ``checked_once`` of the same tables,
    their own foreign keys are already gone, so only a key another table's foreign key
    relies on stays (a table without its primary key took 2.7 s to insert 1.3 M rows and
    0.7 s to build the key after, against 5.7–7.0 s for the same rows sorted into it).
    Yields the tables whose primary key is made at the end: rows need no order going in.
    """
    with _made_again_at_end(conn, _INDEXES_AND_KEYS, tables) as statements:
        yield frozenset(table for *_, table in statements if table)
