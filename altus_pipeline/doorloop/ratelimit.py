"""Rate budgets: the client asks for a slot before every request.

DoorLoop allows 50 requests a minute and 500 an hour per account. ``LocalRateBudget``
paces one process; ``PostgresRateBudget`` keeps the ledger in the warehouse so every
process that shares the account shares the budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

MINUTE = 60.0
T = TypeVar("T")


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

    def poll_seconds(self) -> float:
        """How long a caller waiting on requests still in flight sleeps before looking again."""
        return self.minute_seconds / 60


class RateBudget(Protocol):
    """A slot per request, held while the request is in flight.

    DoorLoop counts a request when it arrives, at some moment between the slot being taken
    and the response. So a slot in flight counts as "now", and once the response is in it is
    dated when the request finished, which is never earlier than when DoorLoop counted it.
    Dating it when it was taken would free it early by the request's latency, and a second
    process would then fit one request too many into the server's window.
    """

    def slot(self) -> AbstractContextManager[float]:
        """Block until a request may be sent and hold a slot for it; yields the seconds waited."""

    def close(self) -> None:
        """Release what the budget holds (a connection); the client calls it when it closes."""


def take_slot(
    try_take: Callable[[], tuple[T | None, float, bool]], limits: Limits, sleep: Callable[[float], None]
) -> tuple[T, float]:
    """Ask ``try_take`` until it gives a slot; return the slot and the seconds waited.

    ``try_take`` returns (the slot, 0, _) or (None, seconds to wait, whether requests are in
    flight). While some are, that wait is only an upper bound (a response dates its slot and
    may free one sooner), so the caller looks again after ``poll_seconds`` at the most.
    """
    waited = 0.0
    while True:
        slot, wait, in_flight = try_take()
        if slot is not None:
            return slot, waited
        pause = min(wait, limits.poll_seconds()) if in_flight else wait
        sleep(pause)
        waited += pause


def wait_needed(stamps: list[float], now: float, limits: Limits) -> float:
    """Seconds until one more request fits every window, given past request times."""
    wait = 0.0
    for window, allowed in limits.windows():
        recent = sorted(t for t in stamps if t > now - window)
        if len(recent) >= allowed:
            wait = max(wait, recent[len(recent) - allowed] + window - now)
    return wait


class LocalRateBudget:
    """An in-process sliding-window budget (thread-safe): finished requests' times and a count of those in flight."""

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._stamps: list[float] = []
        self._in_flight = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[float]:
        if not self.limits.windows():
            yield 0.0
            return
        _, waited = take_slot(self._try_take, self.limits, self._sleep)
        try:
            yield waited
        finally:
            with self._lock:
                self._in_flight -= 1
                self._stamps.append(self._clock())

    def _try_take(self) -> tuple[bool | None, float, bool]:
        """Take a slot if one is free: (True, 0, _); else (None, seconds to wait, whether requests are in flight)."""
        with self._lock:
            now = self._clock()
            horizon = now - self.limits.minute_seconds * 60
            self._stamps = [t for t in self._stamps if t > horizon]
            wait = wait_needed(self._stamps + [now] * self._in_flight, now, self.limits)
            if wait > 0:
                return None, wait, self._in_flight > 0
            self._in_flight += 1
            return True, 0.0, True

    def close(self) -> None:
        """Nothing to release: the ledger is in memory."""
