"""Turns that writers of one warehouse take: advisory locks named per schema.

PostgreSQL's advisory locks belong to the database, not to a schema. Keyed by a bare name,
two warehouses sharing one database (staging and production, or every test's own schema)
waited on each other's loads, normalizes and imports. Every key here names the warehouse
schema (``current_schema()``, which each connection sets to it) as well as what it guards.
"""

from __future__ import annotations

import psycopg

_TAKE_TURN = "SELECT pg_advisory_xact_lock(hashtext(%s || ':' || current_schema() || '.' || %s))"


def take_turn(conn: psycopg.Connection, scope: str, name: str = "") -> None:
    """Wait for, then hold to the end of the transaction, the turn of ``scope`` (``raw``,
    ``normalize``, …) on ``name`` in this connection's warehouse schema."""
    conn.execute(_TAKE_TURN, (scope, name))
