"""Legal case phases and the moves between them (``docs/legal.md#phases``).

A case moves forward along ``ORDER`` any number of phases at once (each phase passed over
is recorded as skipped), may leave any open phase by an off-ramp (which closes it), and
may pause in ``bankruptcy_stay`` and later resume where it paused or further on. Moving
backwards, or out of a closed case, is refused. Pure functions: the importer applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

ORDER: tuple[str, ...] = (
    "referral",
    "notice_served",
    "filed",
    "summons_served",
    "hearing_scheduled",
    "judgment",
    "writ_issued",
    "possession",
    "collections",
    "closed",
)
OFF_RAMPS: tuple[str, ...] = ("cured", "settled", "dismissed", "voluntary_move_out", "withdrawn")
PAUSE = "bankruptcy_stay"
PHASES: tuple[str, ...] = (*ORDER, *OFF_RAMPS, PAUSE)
CLOSED: frozenset[str] = frozenset({"closed", *OFF_RAMPS})


class PhaseError(ValueError):
    """A move the rules refuse; the message says why."""


@dataclass(frozen=True)
class Step:
    """One appended history entry."""

    from_phase: str | None
    to_phase: str
    skipped: bool = False


def parse_phase(text: object) -> str | None:
    """``'Notice Served'``, ``'notice_served'``, ``'NOTICE-SERVED'`` → ``notice_served``; None if unknown."""
    if not isinstance(text, str):
        return None
    name = re.sub(r"[\s_\-]+", "_", text.strip().lower())
    return name if name in PHASES else None


def move(current: str | None, paused_from: str | None, target: str) -> list[Step]:
    """The history entries taking a case from ``current`` to ``target``; [] when already there.

    ``paused_from`` is the phase a case in ``bankruptcy_stay`` paused.
    """
    if current is None:
        return [Step(None, target)]
    if target == current:
        return []
    if current in CLOSED:
        raise PhaseError(f"the case is closed ({current}); it cannot move to {target}")
    if target in OFF_RAMPS or target == PAUSE:
        return [Step(current, target)]
    base = paused_from if current == PAUSE else current
    if base is None or base not in ORDER:
        raise PhaseError(f"the case is in {current} with no phase to resume")
    if ORDER.index(target) < ORDER.index(base):
        raise PhaseError(f"moving backwards from {base} to {target}")
    if current == PAUSE and target == base:
        return [Step(PAUSE, target)]
    passed = ORDER[ORDER.index(base) + 1 : ORDER.index(target)]
    chain = [current, *passed, target]
    return [Step(a, b, skipped=b != target) for a, b in pairwise(chain)]
