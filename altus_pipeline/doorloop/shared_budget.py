"""A rate budget kept in PostgreSQL, shared by every process that uses the same account.

Each slot is a row of ``doorloop_api_call_log``; deciding and recording happen under a
transaction-scoped advisory lock, so two runs can never both take the last slot. A slot in
flight is dated ``in_flight_seconds`` ahead (the latest its request can still reach DoorLoop,
so a run that dies mid-request frees it by itself) and counts as "now"; when the response
is in, it is dated then (see ``RateBudget``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from altus_pipeline.doorloop.ratelimit import Limits, take_slot, wait_needed
from altus_pipeline.warehouse.db import Warehouse


def budget_key(base_url: str, token: str) -> str:
    """Identify the account without storing its token: a short hash of URL and token."""
    return hashlib.sha256(f"{base_url}\0{token}".encode()).hexdigest()[:24]


class PostgresRateBudget:
    """The sliding-window budget of ``LocalRateBudget``, with its ledger in the warehouse.

    It holds one connection (opened on the first slot, closed with the client), so a request
    costs two short statements, not two connections.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        key: str,
        limits: Limits = Limits(),
        sleep: Callable[[float], None] = time.sleep,
        in_flight_seconds: float = 30.0,
    ) -> None:
        self.warehouse = warehouse
        self.key = key
        self.limits = limits
        self.in_flight_seconds = in_flight_seconds
        self._sleep = sleep
        self._lock_id = int(key[:15], 16)
        self._conn: psycopg.Connection | None = None
        self._conn_lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[float]:
        if not self.limits.windows():
            yield 0.0
            return
        slot_id, waited = take_slot(self._try_take, self.limits, self._sleep)
        try:
            yield waited
        finally:
            with self._connection() as conn:
                conn.execute("UPDATE doorloop_api_call_log SET called_at = clock_timestamp() WHERE id = %s", (slot_id,))

    def close(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """The held connection (reopened if it broke), one caller at a time, each use its own transaction."""
        with self._conn_lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self.warehouse.url, autocommit=True)
                self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.warehouse.schema)))
            with self._conn.transaction():
                yield self._conn

    def _try_take(self) -> tuple[int | None, float, bool]:
        """Take a slot if one is free: (its id, 0, _); else (None, seconds to wait, whether slots are in flight)."""
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_id,))
            now, stamps, in_flight = conn.execute(
                """SELECT extract(epoch FROM clock_timestamp())::float8,
                          coalesce(array_agg(extract(epoch FROM least(called_at, clock_timestamp()))::float8), '{}'),
                          count(*) FILTER (WHERE called_at > clock_timestamp())
                   FROM doorloop_api_call_log
                   WHERE budget_key = %s AND called_at > clock_timestamp() - make_interval(secs => %s)""",
                (self.key, self.limits.minute_seconds * 60),
            ).fetchone()
            wait = wait_needed(stamps, now, self.limits)
            if wait > 0:
                return None, wait, in_flight > 0
            (slot_id,) = conn.execute(
                """INSERT INTO doorloop_api_call_log (budget_key, called_at)
                   VALUES (%s, clock_timestamp() + make_interval(secs => %s)) RETURNING id""",
                (self.key, self.in_flight_seconds),
            ).fetchone()
            if len(stamps) % 100 == 0:
                conn.execute(
                    "DELETE FROM doorloop_api_call_log WHERE budget_key = %s AND called_at < now() - interval '2 hours'",
                    (self.key,),
                )
            return slot_id, 0.0, in_flight > 0
