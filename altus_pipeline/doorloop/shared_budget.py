"""A rate budget kept in PostgreSQL, shared by every process that uses the same account.

Each slot is a row of ``doorloop_api_call_log``; deciding and recording happen under a
transaction-scoped advisory lock, so two runs can never both take the last slot.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from altus_pipeline.doorloop.ratelimit import Limits, wait_needed
from altus_pipeline.warehouse.db import Warehouse


def budget_key(base_url: str, token: str) -> str:
    """Identify the account without storing its token: a short hash of URL and token."""
    return hashlib.sha256(f"{base_url}\0{token}".encode()).hexdigest()[:24]


class PostgresRateBudget:
    """The sliding-window budget of ``LocalRateBudget``, with its ledger in the warehouse."""

    def __init__(
        self,
        warehouse: Warehouse,
        key: str,
        limits: Limits = Limits(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.warehouse = warehouse
        self.key = key
        self.limits = limits
        self._sleep = sleep
        self._lock_id = int(key[:15], 16)

    def acquire(self) -> float:
        if not self.limits.windows():
            return 0.0
        waited = 0.0
        while True:
            wait = self._try_take()
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def _try_take(self) -> float:
        """Take a slot if one is free (returns 0), else return the seconds to wait."""
        with self.warehouse.connect() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_id,))
            rows = conn.execute(
                """SELECT extract(epoch FROM called_at)::float8, extract(epoch FROM clock_timestamp())::float8
                   FROM doorloop_api_call_log
                   WHERE budget_key = %s AND called_at > clock_timestamp() - make_interval(secs => %s)""",
                (self.key, self.limits.minute_seconds * 60),
            ).fetchall()
            now = (
                rows[0][1]
                if rows
                else conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
            )
            wait = wait_needed([r[0] for r in rows], now, self.limits)
            if wait <= 0:
                conn.execute("INSERT INTO doorloop_api_call_log (budget_key) VALUES (%s)", (self.key,))
                if len(rows) % 100 == 0:
                    conn.execute(
                        "DELETE FROM doorloop_api_call_log WHERE budget_key = %s AND called_at < now() - interval '2 hours'",
                        (self.key,),
                    )
            return wait
