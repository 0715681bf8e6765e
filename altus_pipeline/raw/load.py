"""Load one DoorLoop listing into its raw table: exactly, idempotently, in one transaction.

Pages stream from the client straight into ``COPY`` on a temporary staging table; one
``INSERT … ON CONFLICT … WHERE content_hash IS DISTINCT FROM`` then writes only what
changed, and one ``UPDATE`` soft-deletes what the listing no longer returns. A crash at
any point rolls the whole transaction back, leaving the previous state intact.

Master data is read as a full snapshot, or in a daily run newest-changed first down to
what the last run saw (``incremental.py``): that read upserts only and soft-deletes nothing.

A transaction is read either by date (DoorLoop filters a partition range) or, in a
reconcile, unfiltered: then the loader itself sorts each record into its partition, and a
record no partition can hold (business date missing, unparseable or outside them) goes
to the dead-letter queue instead, since no date-filtered listing would ever return it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from altus_pipeline import settings
from altus_pipeline.dlq.model import Failure
from altus_pipeline.dlq.statements import record_failures
from altus_pipeline.doorloop.client import DoorLoopClient, ListingStats
from altus_pipeline.doorloop.errors import DoorLoopListingError
from altus_pipeline.doorloop.registry import Entity
from altus_pipeline.partitions import DateRange
from altus_pipeline.raw import incremental
from altus_pipeline.raw.incremental import Plan, Scan
from altus_pipeline.warehouse import casts

MAX_READS = 2  # a listing that moved under us is read once more before it fails
# Master data whose change moves the KPIs only from a date the record carries: a lease from
# its start, a work order from its creation. Any other master record (a unit, a property, a
# lease tenant's move-out that reopens a lease's coverage) may change KPIs of every date.
AFFECTS_FROM_FIELD: dict[str, str] = {"leases": "start", "tasks": "createdAt"}


@dataclass
class LoadResult:
    """What one load saw and changed; becomes run metadata and an audit row."""

    rows_listed: int = 0
    api_total: int | None = None
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    soft_deleted: int = 0
    rejected: int = 0
    duplicates: int = 0
    rows_in_table: int = 0
    reads: int = 0
    touched_from: dt.date | None = None  # earliest date the load's changes affect; None: it changed nothing
    stats: ListingStats = field(default_factory=ListingStats)
    listing: str | None = None  # master data: how it was read (incremental, or full and why)
    high_water_mark: str | None = None  # master data read incrementally: the newest updatedAt raw held

    def as_metadata(self) -> dict[str, Any]:
        listing = {k: v for k in ("listing", "high_water_mark") if (v := getattr(self, k)) is not None}
        skip = ("stats", "touched_from", "listing", "high_water_mark")
        counts = {k: v for k, v in asdict(self).items() if k not in skip}
        return {
            **listing,
            **counts,
            "touched_from": self.touched_from.isoformat() if self.touched_from else None,
            "api_requests": self.stats.requests,
            "api_retries": self.stats.retries,
            "api_bytes": self.stats.bytes,
            "seconds": round(self.stats.seconds, 3),
        }


def business_date(value: Any) -> dt.date | None:
    """The UTC calendar date of a DoorLoop date or timestamp (None when unparseable)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return stamp.date()
    return stamp.astimezone(dt.UTC).date()


def _key_of(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("id"), str) and record["id"]:
        return record["id"]
    return None


def _rejection(entity: Entity, record: Any, partition_key: str | None, run_id: str) -> Failure:
    text = json.dumps(record, sort_keys=True, default=str)
    reason = (
        f"{entity.name}: record is a {type(record).__name__}, expected a JSON object with a string 'id'"
        if not isinstance(record, dict)
        else f"{entity.name}: record has no usable 'id' (got {record.get('id')!r}); expected a non-empty string"
    )
    return Failure.of_raw(
        entity,
        partition_key,
        run_id,
        stage="validate",
        payload=text,
        hash_source=text,
        error_class="validation",
        field="id",
        message=reason,
    )


def _date_rejection(
    entity: Entity, record: dict[str, Any], key: str, day: dt.date | None, bounds: DateRange, run_id: str
) -> Failure:
    """The DLQ record of a listed record no date partition can hold (it belongs to no partition)."""
    text = json.dumps(record, sort_keys=True, default=str)
    name = entity.date_field or ""
    value = record.get(name)
    expected = f"expected a date (YYYY-MM-DD or an ISO-8601 timestamp) within the partitions {bounds.partition_key}"
    if value is None:
        problem = f"has no '{name}'"
    elif day is None:
        problem = f"'{name}' {value!r} is not a date"
    else:
        problem = f"'{name}' {day.isoformat()} is outside the partitions"
    return Failure.of_raw(
        entity,
        None,
        run_id,
        stage="validate",
        payload=text,
        hash_source=text,
        error_class="validation",
        field=name,
        message=f"{entity.name} {key}: {problem}; {expected}",
        doorloop_id=key,
    )


class RawLoader:
    """Loads listings of one entity into ``doorloop_raw_<entity>``."""

    def __init__(self, conn: psycopg.Connection, client: DoorLoopClient, entity: Entity, run_id: str) -> None:
        self.conn = conn
        self.client = client
        self.entity = entity
        self.run_id = run_id
        self.table = sql.Identifier(entity.raw_table)

    def load(self, dates: DateRange | None = None, *, filtered: bool = True, newest_first: bool = False) -> LoadResult:
        """Read the listing and apply it; the caller commits.

        Without ``dates`` the listing is a full snapshot (master data), or with
        ``newest_first`` the changes since the high-water mark when the server lets it be
        read so (``incremental.plan``; any doubt reads the full snapshot). With ``dates``,
        ``filtered`` asks DoorLoop for those business dates only, and only stored rows of
        that range can be soft-deleted; unfiltered (the reconcile), ``dates`` are every
        partition: the whole listing is read, a record dated outside them goes to the DLQ,
        and any stored row not listed is soft-deleted.

        A listing that moved while we paged (totals changed, a short read, fewer distinct
        ids than ``total``) is read once more; a second failure raises.
        """
        result = LoadResult()
        started = time.monotonic()
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS raw_stage (ord bigint, id text, payload jsonb, business_date date)"
            " ON COMMIT DROP"
        )
        scope = dates if filtered else None
        params = scope and self.entity.date_params(scope.start.isoformat(), scope.end.isoformat())
        bounds = None if filtered else dates
        plan = self._plan(dates, newest_first)
        for read in range(1, MAX_READS + 1):
            result.reads = read
            try:
                scan = plan.scan() if plan else None
                rejects = self._stage(params, scope, bounds, result, scan)
                if rejects is None:  # the listing cannot be read incrementally: read it all
                    plan, scan = Plan.full(scan.problem), None
                    rejects = self._stage(params, scope, bounds, result)
                distinct = self.conn.execute("SELECT count(DISTINCT id) FROM raw_stage").fetchone()[0]
                whole = scan is None or not scan.stopped
                if whole and distinct + len(rejects) < (result.api_total or 0):
                    raise DoorLoopListingError(
                        f"{distinct} distinct ids and {len(rejects)} rejected records fall short of "
                        f"total {result.api_total}",
                        path=self.entity.path,
                    )
                break
            except DoorLoopListingError:
                if read == MAX_READS:
                    raise
        result.duplicates = result.rows_listed - distinct - len(rejects)
        result.rejected = len(rejects)
        record_failures(self.conn, rejects)
        if plan:
            result.listing, result.high_water_mark = plan.listing, plan.high_water_mark
        self._apply(scope, result, soft_delete=not (plan and plan.incremental))
        result.stats.seconds = time.monotonic() - started
        return result

    def _plan(self, dates: DateRange | None, newest_first: bool) -> Plan | None:
        """How master data is read (None for transactions, which are read by date)."""
        if self.entity.partitioned or dates is not None:
            return None
        return incremental.plan(self.conn, self.entity) if newest_first else Plan.full("full")

    def _stage(
        self,
        params: dict[str, str] | None,
        scope: DateRange | None,
        bounds: DateRange | None,
        result: LoadResult,
        scan: Scan | None = None,
    ) -> list[Failure] | None:
        """COPY one read of the listing into the (emptied) staging table; return the records rejected.

        ``bounds`` (an unfiltered listing of a partitioned entity) are the business dates a
        record must have to be staged; the others are rejected with their reason. With a
        ``scan`` the listing is read newest-changed first and no page is asked for once the
        scan is done; None means the served order refused it (``scan.problem`` says why).
        """
        self.conn.execute("TRUNCATE raw_stage")
        date_field = self.entity.date_field
        partition_key = scope.partition_key if scope else None
        rejects: list[Failure] = []
        listed = 0
        stats = ListingStats()
        copy_stmt = "COPY raw_stage (ord, id, payload, business_date) FROM STDIN"
        query = {**(params or {}), **(incremental.NEWEST_FIRST if scan else {})}
        try:
            # A savepoint: a listing error aborts the COPY, and the next read must still run.
            with (
                self.conn.transaction(),
                self.conn.cursor().copy(copy_stmt) as copy,
                closing(self.client.iter_pages(self.entity, query, stats)) as pages,
            ):
                for page in pages:
                    for record in page.records:
                        listed += 1
                        if scan and not scan.admit(record):
                            return None
                        key = _key_of(record)
                        if key is None:
                            rejects.append(_rejection(self.entity, record, partition_key, self.run_id))
                            continue
                        day = business_date(record.get(date_field)) if date_field else None
                        if bounds and (day is None or not bounds.start <= day <= bounds.end):
                            rejects.append(_date_rejection(self.entity, record, key, day, bounds, self.run_id))
                            continue
                        copy.write_row((listed, key, json.dumps(record), day))
                    if scan and scan.done:
                        scan.stopped = True
                        break
        finally:
            result.stats.add(stats)
        self.conn.execute("ANALYZE raw_stage")
        result.rows_listed = listed
        result.api_total = stats.total
        return rejects

    def _dated(self) -> dict[str, str]:
        """The parameters of ``_affects_from``: the first partition and the payload's date field, if any."""
        return {"history": settings.partition_start(), "field": AFFECTS_FROM_FIELD.get(self.entity.name, "")}

    def _affects_from(self, alias: str) -> sql.Composable:
        """The earliest date a change to row ``alias`` affects, as SQL (parameters: ``_dated``).

        A transaction affects its business date; a lease its start, a task its creation
        (``AFFECTS_FROM_FIELD``); other master data, or a date missing or unparseable,
        the whole history.
        """
        row = sql.Identifier(alias)
        if self.entity.partitioned:
            return sql.SQL("coalesce({row}.business_date, %(history)s::date)").format(row=row)
        if self.entity.name not in AFFECTS_FROM_FIELD:
            return sql.SQL("%(history)s::date")
        text = sql.SQL("left({row}.payload ->> %(field)s::text, 10)").format(row=row)
        return sql.SQL("coalesce(CASE WHEN {ok} THEN {text}::date END, %(history)s::date)").format(
            ok=casts.date_ok(text), text=text
        )

    def _apply(self, dates: DateRange | None, result: LoadResult, *, soft_delete: bool = True) -> None:
        """Upsert changed rows, soft-delete vanished ones, count each kind and the earliest date touched.

        Without ``soft_delete`` (an incremental read) a row not listed is left as it is.

        The upsert's CTE returns what each written row affects now; the outer query joins the
        table as it was before the statement, so a row moved to another date (or a lease to
        another start) counts from the earlier of the two.
        """
        upsert = sql.SQL(
            """
            WITH written AS (
            INSERT INTO {table} AS t (id, payload, content_hash, business_date, last_run_id)
            SELECT DISTINCT ON (id) id, payload, md5(payload::text), business_date, %(run)s
            FROM raw_stage ORDER BY id, ord DESC
            ON CONFLICT (id) DO UPDATE
            SET payload = EXCLUDED.payload,
                content_hash = EXCLUDED.content_hash,
                business_date = EXCLUDED.business_date,
                last_changed_at = now(),
                deleted_at = NULL,
                last_run_id = EXCLUDED.last_run_id
            WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash OR t.deleted_at IS NOT NULL
            RETURNING t.id, (xmax = 0) AS inserted, {new} AS affects
            )
            SELECT count(*) FILTER (WHERE w.inserted), count(*),
                   min(least(w.affects, CASE WHEN prior.id IS NOT NULL THEN {old} END))
            FROM written w LEFT JOIN {table} AS prior ON prior.id = w.id
            """
        ).format(table=self.table, new=self._affects_from("t"), old=self._affects_from("prior"))
        inserted, written, upserted_from = self.conn.execute(upsert, {"run": self.run_id, **self._dated()}).fetchone()
        result.inserted = inserted
        result.updated = written - inserted
        result.unchanged = result.rows_listed - result.rejected - result.duplicates - written
        scope = sql.SQL("")
        if dates is not None:
            scope = sql.SQL("AND t.business_date BETWEEN %(start)s AND %(end)s")
        vanished = sql.SQL(
            """
            WITH gone AS (
            UPDATE {table} AS t SET deleted_at = now(), last_run_id = %(run)s
            WHERE t.deleted_at IS NULL {scope}
              AND NOT EXISTS (SELECT 1 FROM raw_stage s WHERE s.id = t.id)
            RETURNING {affects} AS affects
            )
            SELECT count(*), min(affects) FROM gone
            """
        ).format(table=self.table, scope=scope, affects=self._affects_from("t"))
        bounds = {"start": dates.start, "end": dates.end} if dates else {}
        params = {"run": self.run_id, **self._dated(), **bounds}
        deleted_from = None
        if soft_delete:
            result.soft_deleted, deleted_from = self.conn.execute(vanished, params).fetchone()
        touched = [d for d in (upserted_from, deleted_from) if d is not None]
        result.touched_from = min(touched, default=None)
        count = sql.SQL("SELECT count(*) FROM {table} WHERE deleted_at IS NULL").format(table=self.table)
        result.rows_in_table = self.conn.execute(count).fetchone()[0]
