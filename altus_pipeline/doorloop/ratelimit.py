"""Rate budgets: the client asks for a slot before every request.

DoorLoop allows 50 requests a minute and 500 an hour per account. ``LocalRateBudget``
paces one process; ``PostgresRateBudget`` keeps the ledger in the warehouse so every
process that shares the account shares the budget.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

MINUTE = 60.0


@dataclass(frozen=True)
class Limits:
    """Requests allowed per minute and per hour; None lifts that window.

    ``minute_seconds`` shortens the windows (the hour is 60 of them) so tests can exercise
    pacing in seconds; it is 60 everywhere else.
    """

    per_minute: int | None = 50
    per_hour: int | None = 500
    minute_seconds: float = MINUTE

    def windows(self) -> list[tuple[float, int]]:
        spans = ((self.minute_seconds, self.per_minute), (self.minute_seconds * 60, self.per_hour))
        return [(w, n) for w, n in spans if n is not None]


class RateBudget(Protocol):
    def acquire(self) -> float:
        """Block until a request may be sent; record it; return the seconds waited."""


def wait_needed(stamps: list[float], now: float, limits: Limits) -> float:
    """Seconds until one more request fits every window, given past request times."""
    wait = 0.0
    for window, allowed in limits.windows():
        recent = sorted(t for t in stamps if t > now - window)
        if len(recent) >= allowed:
            wait = max(wait, recent[len(recent) - allowed] + window - now)
    return wait


class LocalRateBudget:
    """An in-process sliding-window budget (thread-safe)."""

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._stamps and self._stamps[0] <= now - self.limits.minute_seconds * 60:
                    self._stamps.popleft()
                wait = wait_needed(list(self._stamps), now, self.limits)
                if wait <= 0:
                    self._stamps.append(now)
                    return waited
            self._sleep(wait)
            waited += wait
