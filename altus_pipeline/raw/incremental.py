"""Incremental master data: read newest-changed first and stop at what the last run saw.

DoorLoop has no "modified since" filter, but every list sorts on any field
(``sort_by=updatedAt&sort_descending=true``). A daily run of a master-data entity reads
that order page by page and asks for no further page once a page ends older than the
high-water mark less an overlap for clock skew (``ALTUS_INCREMENTAL_OVERLAP_MINUTES``).

The high-water mark is the newest ``updatedAt`` in the entity's own raw table: the raw
asset owns it, it moves exactly when raw does, and no second copy can disagree.

Nothing here trusts the server: the order actually served is checked record by record
(non-increasing ``updatedAt`` across every page read), and a listing out of order or a
record without a readable ``updatedAt`` makes the loader read the full snapshot instead,
saying why. An incremental listing soft-deletes nothing (a record it did not read may just
be older); deletions are caught by the full snapshot every reconcile reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql

from altus_pipeline.doorloop.client import sort_params
from altus_pipeline.doorloop.registry import Entity
from altus_pipeline.settings import env_number
from altus_pipeline.warehouse import casts

STAMP_FIELD = "updatedAt"
NEWEST_FIRST = sort_params(STAMP_FIELD, descending=True)
OVERLAP_SETTING = "ALTUS_INCREMENTAL_OVERLAP_MINUTES"
DEFAULT_OVERLAP_MINUTES = 10
MAX_OVERLAP_MINUTES = 7 * 24 * 60

# Why a master-data load read the full snapshot (run metadata ``listing``).
NO_MARK = "full (no high-water mark yet)"
UNSTAMPED = f"full (records without {STAMP_FIELD})"
UNSORTED = "full (server ignored sort)"


def overlap() -> dt.timedelta:
    """How far before the high-water mark a daily read goes on, for changes stamped out of commit order."""
    minutes = env_number(OVERLAP_SETTING, DEFAULT_OVERLAP_MINUTES, minimum=0, maximum=MAX_OVERLAP_MINUTES)
    return dt.timedelta(minutes=minutes)


def updated_at(record: object) -> dt.datetime | None:
    """A record's ``updatedAt`` as an aware UTC datetime; None when missing or not an ISO 8601 timestamp."""
    value = record.get(STAMP_FIELD) if isinstance(record, dict) else None
    if not isinstance(value, str) or len(value) < 16:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Scan:
    """One newest-changed-first read: the order check and the stop condition.

    ``admit`` every record in the order served; after each page, ``done`` says whether the
    next page can hold anything newer than ``cutoff`` (it cannot once one record is older).
    """

    cutoff: dt.datetime
    last: dt.datetime | None = None
    problem: str | None = None  # set when the read must be replaced by the full snapshot
    stopped: bool = False  # the read ended before the listing did

    def admit(self, record: object) -> bool:
        """Whether the read may go on after ``record``; False sets ``problem``."""
        stamp = updated_at(record)
        if stamp is None:
            self.problem = UNSTAMPED
        elif self.last is not None and stamp > self.last:
            self.problem = UNSORTED
        else:
            self.last = stamp
        return self.problem is None

    @property
    def done(self) -> bool:
        return self.last is not None and self.last < self.cutoff


@dataclass(frozen=True)
class Plan:
    """How a master-data load reads: from ``cutoff`` on (incremental) or, without one, in full."""

    listing: str
    cutoff: dt.datetime | None = None
    high_water_mark: str | None = None

    @property
    def incremental(self) -> bool:
        return self.cutoff is not None

    def scan(self) -> Scan | None:
        """A fresh scan for one read of the listing (None: read it in full)."""
        return Scan(self.cutoff) if self.cutoff is not None else None

    @classmethod
    def full(cls, why: str) -> Plan:
        return cls(listing=why)


def plan(conn: psycopg.Connection, entity: Entity) -> Plan:
    """The daily read of ``entity``: incremental from its raw table's high-water mark less the overlap.

    Full instead when raw holds nothing stamped yet, or a live row whose ``updatedAt`` is
    missing or unreadable: such a record cannot be found by the newest-changed order.
    """
    text = sql.SQL("(payload ->> {field})").format(field=sql.Literal(STAMP_FIELD))
    ok = casts.timestamp_ok(text)
    query = sql.SQL(
        "SELECT max(CASE WHEN {ok} THEN {text}::timestamptz END),"
        " count(*) FILTER (WHERE deleted_at IS NULL AND NOT coalesce({ok}, false))"
        " FROM {table}"
    ).format(ok=ok, text=text, table=sql.Identifier(entity.raw_table))
    newest, unstamped = conn.execute(query).fetchone()
    if unstamped:
        return Plan.full(UNSTAMPED)
    if newest is None:
        return Plan.full(NO_MARK)
    cutoff = newest - overlap()
    return Plan(
        listing=f"incremental ({STAMP_FIELD} from {_stamp(cutoff)})", cutoff=cutoff, high_water_mark=_stamp(newest)
    )
