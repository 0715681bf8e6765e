"""Fault injection for the sandbox: the ways a real DoorLoop account misbehaves, on demand.

The pipeline has to survive 5xx bursts, surprise 429s, slow answers, cut-off bodies,
HTML login pages, corrupt records and data that moves while it pages. A ``FaultSpec``
says how often each happens; a ``FaultInjector`` draws from one seeded random stream
under a lock so a test run with a fixed seed (and sequential requests) sees the same
faults every time.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

#: Faults drawn per request, in the order they are tried; the first hit wins.
REQUEST_FAULTS: tuple[str, ...] = ("429", "5xx", "html", "truncate", "slow")
#: Faults that change the data rather than one response.
DATA_FAULTS: tuple[str, ...] = ("malformed", "drift")
FAULT_KINDS: tuple[str, ...] = REQUEST_FAULTS + DATA_FAULTS

DEFAULT_SLOW_SECONDS = 2.0


@dataclass(frozen=True)
class FaultRate:
    """How often one fault kind fires: a probability per draw, optionally capped in total."""

    probability: float = 0.0
    max_count: int | None = None

    def __str__(self) -> str:
        return f"{self.probability:g}" + ("" if self.max_count is None else f":{self.max_count}")


@dataclass(frozen=True)
class FaultSpec:
    """Which faults to inject and how often (immutable, hashable, parsed from CLI text).

    Grammar: comma-separated ``kind=probability[:max]`` items, kinds from ``FAULT_KINDS``,
    plus ``slow_seconds=<seconds>``. Example: ``"5xx=0.2,429=0.1:3,slow=0.05,slow_seconds=1.5"``.
    """

    rates: tuple[tuple[str, FaultRate], ...] = ()
    slow_seconds: float = DEFAULT_SLOW_SECONDS

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """Parse the CLI form; raise ValueError naming the offending item."""
        rates: dict[str, FaultRate] = {}
        slow_seconds = DEFAULT_SLOW_SECONDS
        for item in (text or "").split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, value = (part.strip() for part in item.partition("="))
            if not sep:
                raise ValueError(f"fault item {item!r}: expected kind=probability[:max]")
            if key == "slow_seconds":
                slow_seconds = _parse_seconds(item, value)
            elif key in FAULT_KINDS:
                if key in rates:
                    raise ValueError(f"fault item {item!r}: {key!r} given twice")
                rates[key] = _parse_rate(item, value)
            else:
                raise ValueError(
                    f"fault item {item!r}: unknown kind {key!r}; known: {', '.join(FAULT_KINDS)}, slow_seconds"
                )
        return cls(rates=tuple(rates.items()), slow_seconds=slow_seconds)

    def rate(self, kind: str) -> FaultRate:
        """The rate of ``kind`` (zero when the spec does not mention it)."""
        return dict(self.rates).get(kind, FaultRate())

    def __str__(self) -> str:
        items = [f"{kind}={rate}" for kind, rate in self.rates]
        if self.slow_seconds != DEFAULT_SLOW_SECONDS:
            items.append(f"slow_seconds={self.slow_seconds:g}")
        return ",".join(items)


def _parse_rate(item: str, value: str) -> FaultRate:
    probability_text, sep, max_text = value.partition(":")
    try:
        probability = float(probability_text)
    except ValueError:
        raise ValueError(f"fault item {item!r}: probability {probability_text!r} is not a number") from None
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"fault item {item!r}: probability must be within [0, 1]")
    if not sep:
        return FaultRate(probability)
    try:
        max_count = int(max_text)
    except ValueError:
        max_count = -1
    if max_count < 0:
        raise ValueError(f"fault item {item!r}: max {max_text!r} is not a non-negative integer")
    return FaultRate(probability, max_count)


def _parse_seconds(item: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"fault item {item!r}: {value!r} is not a number of seconds") from None
    if seconds < 0:
        raise ValueError(f"fault item {item!r}: seconds must not be negative")
    return seconds


class FaultInjector:
    """Draws faults from one seeded stream so a fixed seed replays the same failures.

    Every draw, and every random choice a fault makes (which 5xx, which record drifts),
    goes through the same ``random.Random`` under one lock: two sandboxes with the same
    seed fed the same request sequence behave identically.
    """

    def __init__(self, spec: FaultSpec, seed: int) -> None:
        self.spec = spec
        self._random = random.Random(seed)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def draw(self, kind: str) -> bool:
        """Whether ``kind`` fires now; disabled or exhausted kinds do not consume randomness."""
        rate = self.spec.rate(kind)
        with self._lock:
            count = self._counts.get(kind, 0)
            if rate.probability <= 0 or (rate.max_count is not None and count >= rate.max_count):
                return False
            if self._random.random() >= rate.probability:
                return False
            self._counts[kind] = count + 1
            return True

    def request_fault(self) -> str | None:
        """The fault to inflict on one list/single GET, or None."""
        return next((kind for kind in REQUEST_FAULTS if self.draw(kind)), None)

    def server_error_status(self) -> int:
        """503 or 500, as a flaky gateway or a crashing backend would answer."""
        with self._lock:
            return self._random.choice((503, 500))

    def corrupt(self, records: list[Any], date_field: str | None) -> list[Any]:
        """Return ``records`` with a drawn fraction replaced by corrupt copies.

        Alternates between the two corruptions the pipeline must quarantine: a record
        without ``id`` and a record with a wrong-typed field. Applied once, at
        construction, so every read sees the same corrupt records.
        """
        corrupted = 0
        result = []
        for record in records:
            if isinstance(record, dict) and self.draw("malformed"):
                record = _drop_id(record) if corrupted % 2 == 0 else _wrong_type(record, date_field)
                corrupted += 1
            result.append(record)
        return result

    def drift(self, records: list[Any]) -> list[Any]:
        """Return ``records`` with one record inserted or deleted, as a live account does mid-sync.

        An insert copies an existing record under a fresh id; with nothing to copy, a
        record is deleted instead (and with nothing at all, nothing changes).
        """
        templates = [r for r in records if isinstance(r, dict)]
        with self._lock:
            if not records:
                return records
            result = list(records)
            if templates and self._random.random() < 0.5:
                record = dict(self._random.choice(templates), id=f"{self._random.getrandbits(96):024x}")
                result.insert(self._random.randrange(len(result) + 1), record)
            else:
                del result[self._random.randrange(len(result))]
            return result


def _drop_id(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "id"}


def _wrong_type(record: dict[str, Any], date_field: str | None) -> dict[str, Any]:
    """A copy with a date that is not a date, else an amount that is not a number."""
    if date_field and date_field in record:
        return {**record, date_field: "not-a-date"}
    for key, value in record.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {**record, key: "12,50 USD"}
    return {**record, "createdAt": "not-a-date"}
