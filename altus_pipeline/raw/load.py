"""Load one DoorLoop listing into its raw table: exactly, idempotently, in one transaction.

Pages stream from the client straight into ``COPY`` on a temporary staging table, each
record as the JSON text DoorLoop sent and the md5 of that text (hashed here while
streaming, so the server never serialises a payload to hash it). An empty table (a first
load) is the ``COPY``'s target itself: PostgreSQL parses and indexes the records while the
pages still arrive, instead of after the listing. Otherwise one ``INSERT … ON CONFLICT``
compares first and writes only what changed: a listed record whose hash the stored row
already holds is neither parsed nor locked, so a re-sync with nothing changed writes
nothing; and one ``UPDATE`` soft-deletes what the listing no longer returns (skipped when
a whole listing left no live row out). A crash at any point rolls the whole transaction
back, leaving the previous state intact.

Master data is read as a full snapshot, or in a daily run newest-changed first down to
what the last run saw (``incremental.py``): that read upserts only and soft-deletes nothing.

A transaction is read either by date (DoorLoop filters a partition range) or, in a
reconcile, unfiltered: then the loader itself sorts each record into its partition, and a
record no partition can hold (business date missing, unparseable or outside them) goes
to the dead-letter queue instead, since no date-filtered listing would ever return it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, fields
from typing import Any

import psycopg
from psycopg import postgres, sql
from psycopg.adapt import Dumper
from psycopg.pq import Format

from altus_pipeline import settings
from altus_pipeline.dlq.model import Failure
from altus_pipeline.dlq.statements import record_failures
from altus_pipeline.doorloop.client import DoorLoopClient, ListingStats, Page
from altus_pipeline.doorloop.errors import DoorLoopListingError
from altus_pipeline.doorloop.registry import Entity
from altus_pipeline.partitions import DateRange
from altus_pipeline.raw import incremental
from altus_pipeline.raw.incremental import Plan, Scan
from altus_pipeline.warehouse import casts
from altus_pipeline.warehouse.locks import take_turn

STAGE_TYPES = ["int8", "text", "text", "text", "date"]  # raw_stage's columns, as COPY sends them
DIRECT_TYPES = ["text", "jsonb", "text", "date", "text"]  # a raw table's, when an empty one is the COPY's target
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
        counts = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
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


class JsonText(str):
    """A record's JSON text, sent to a ``jsonb`` column as is (``JsonTextDumper``)."""


class JsonTextDumper(Dumper):
    """Binary ``jsonb`` of JSON text: a version byte and the text, which the server parses."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def content_hash(text: str) -> str:
    """The ``content_hash`` of a record loaded as JSON ``text``: the md5 of that text."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _key_of(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("id"), str) and record["id"] and "\x00" not in record["id"]:
        return record["id"]
    return None


def _rejection(entity: Entity, record: Any, partition_key: str | None, run_id: str) -> Failure:
    text = json.dumps(record, sort_keys=True, default=str)
    reason = (
        f"{entity.name}: record is a {type(record).__name__}, expected a JSON object with a string 'id'"
        if not isinstance(record, dict)
        else f"{entity.name}: record has no usable 'id' (got {record.get('id')!r}); expected a non-empty string without NUL characters"
    )
    return Failure.of_raw(
        entity,
        partition_key,
        run_id,
        stage="validate",
        payload=_dlq_payload(record),
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
        payload=_dlq_payload(record),
        hash_source=text,
        error_class="validation",
        field=name,
        message=f"{entity.name} {key}: {problem}; {expected}",
        doorloop_id=key,
    )


def _nul_field(value: Any, path: str = "") -> str | None:
    """The path (``notes.lines[2]``) of the first key or string of a record that holds a NUL
    character, which PostgreSQL cannot store in text or jsonb; None when there is none."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            found = here if "\x00" in str(key) else _nul_field(item, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_field(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _shown_nul(value: Any) -> Any:
    """``value`` with each NUL written as the six characters ``\\u0000``, so the DLQ can keep the record."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, dict):
        return {_shown_nul(key): _shown_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shown_nul(item) for item in value]
    return value


def _dlq_payload(record: Any) -> str:
    """A rejected record as the DLQ keeps it (jsonb): as listed, any NUL shown as text."""
    return json.dumps(_shown_nul(record), sort_keys=True, default=str)


def _nul_rejection(
    entity: Entity, record: dict[str, Any], key: str, field_path: str, text: str, partition_key: str | None, run_id: str
) -> Failure:
    """The DLQ record of a listed record holding a NUL character (its NULs shown as text)."""
    return Failure.of_raw(
        entity,
        partition_key,
        run_id,
        stage="validate",
        payload=_dlq_payload(record),
        hash_source=text,
        error_class="validation",
        field=field_path,
        message=(
            f"{entity.name} {key}: '{field_path}' holds a NUL character (\\u0000), which PostgreSQL cannot store; "
            "expected text without NUL (the DLQ payload shows it as the text \\u0000)"
        ),
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
        # The payload is staged as text: only the rows the upsert writes are parsed into jsonb.
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS raw_stage"
            " (ord bigint, id text, content_hash text, payload text, business_date date) ON COMMIT DROP"
        )
        scope = dates if filtered else None
        params = scope and self.entity.date_params(scope.start.isoformat(), scope.end.isoformat())
        bounds = None if filtered else dates
        plan = self._plan(dates, newest_first)
        direct = not (plan and plan.incremental) and self._empty_for_this_load()
        by_parent = plan is not None and plan.queries is not None
        for read in range(1, MAX_READS + 1):
            try:
                scan = plan.scan() if plan else None
                try:
                    queries = plan.queries if by_parent else None
                    rejects = self._stage(params, scope, bounds, result, scan, direct=direct, queries=queries)
                except psycopg.errors.UniqueViolation as exc:  # only a direct COPY can break the key
                    raise DoorLoopListingError(
                        f"an id was listed twice ({exc.diag.message_detail}): the listing moved",
                        path=self.entity.path,
                    ) from None
                if rejects is None:  # the listing cannot be read incrementally: read it all
                    plan, scan = Plan.full(scan.problem), None
                    rejects = self._stage(params, scope, bounds, result)
                distinct = result.rows_listed - len(rejects) if direct else self._distinct_staged()
                whole = (scan is None or not scan.stopped) and not by_parent
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
        # A row listed for its lease and again by a date passed is one row read twice, not a
        # duplicate in DoorLoop's listing.
        repeated = result.rows_listed - distinct - len(rejects)
        result.duplicates = 0 if by_parent else repeated
        result.rejected = len(rejects)
        if plan:
            result.listing, result.high_water_mark = plan.listing, plan.high_water_mark
        if by_parent:
            result.api_total = self.client.total(self.entity, result.stats)
        if direct:
            self._count_direct(result)
        else:
            soft_delete = not (plan and plan.incremental)
            self._apply(
                scope, result, distinct, repeated, soft_delete=soft_delete, parents=plan.parents if plan else ()
            )
        record_failures(self.conn, rejects)  # under the table's turn (``take_turn``), as every write here
        result.stats.seconds = time.monotonic() - started
        return result

    def _empty_for_this_load(self) -> bool:
        """Whether the table has no row, and then this load's turn (the lock ``_apply`` takes) is taken now.

        A first load is copied into the table itself, so it takes its turn before it reads;
        a load finding rows takes it later, as it stages first. A load waiting here behind
        another's first load finds rows once that commits, and stages.
        """
        if self._has_rows():
            return False
        take_turn(self.conn, "raw", self.entity.raw_table)
        return not self._has_rows()

    def _has_rows(self) -> bool:
        return self.conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {table})").format(table=self.table)).fetchone()[0]

    def _distinct_staged(self) -> int:
        """Distinct ids staged, hashed rather than sorted (``count(DISTINCT …)`` always sorts)."""
        return self.conn.execute("SELECT count(*) FROM (SELECT DISTINCT id FROM raw_stage) AS listed").fetchone()[0]

    def _count_direct(self, result: LoadResult) -> None:
        """The counts of a first load, copied straight into the table: every row is new."""
        affects = sql.SQL("SELECT count(*), min({affects}) FROM {table} AS t").format(
            table=self.table, affects=self._affects_from("t")
        )
        result.inserted, result.touched_from = self.conn.execute(affects, self._dated()).fetchone()
        result.rows_in_table = result.inserted

    def _plan(self, dates: DateRange | None, newest_first: bool) -> Plan | None:
        """How master data is read (None for transactions, which are read by date)."""
        if self.entity.partitioned or dates is not None:
            return None
        return incremental.plan(self.conn, self.entity, self.client.page_size) if newest_first else Plan.full("full")

    def _stage(
        self,
        params: dict[str, str] | None,
        scope: DateRange | None,
        bounds: DateRange | None,
        result: LoadResult,
        scan: Scan | None = None,
        *,
        direct: bool = False,
        queries: tuple[Mapping[str, str], ...] | None = None,
    ) -> list[Failure] | None:
        """COPY one read of the listing into the (emptied) staging table; return the records rejected.

        ``bounds`` (an unfiltered listing of a partitioned entity) are the business dates a
        record must have to be staged; the others are rejected with their reason. With a
        ``scan`` the listing is read newest-changed first and no page is asked for once the
        scan is done; None means the served order refused it (``scan.problem`` says why).
        ``direct`` copies into the (empty) raw table instead; an id listed twice raises
        ``UniqueViolation`` there (a full listing short of distinct ids has moved, as
        ``load`` would find from the staging table), and the read is rolled back. ``queries``
        (a read by parent) are listings read one after another into the one staging table.
        """
        result.reads += 1
        if direct:
            copy_stmt = sql.SQL(
                "COPY {table} (id, payload, content_hash, business_date, last_run_id) FROM STDIN (FORMAT BINARY)"
            ).format(table=self.table)
            types, run_id = DIRECT_TYPES, self.run_id

            def row(listed: int, key: str, text: str, day: dt.date | None) -> tuple:
                return key, JsonText(text), content_hash(text), day, run_id
        else:
            self.conn.execute("TRUNCATE raw_stage")
            copy_stmt = sql.SQL(
                "COPY raw_stage (ord, id, content_hash, payload, business_date) FROM STDIN (FORMAT BINARY)"
            )
            types = STAGE_TYPES

            def row(listed: int, key: str, text: str, day: dt.date | None) -> tuple:
                return listed, key, content_hash(text), text, day

        date_field = self.entity.date_field
        partition_key = scope.partition_key if scope else None
        rejects: list[Failure] = []
        listed = 0
        stats = ListingStats()
        query = {**(params or {}), **(incremental.NEWEST_FIRST if scan else {})}
        try:
            # A savepoint: a listing error aborts the COPY, and the next read must still run.
            cursor = self.conn.cursor()
            cursor.adapters.register_dumper(JsonText, JsonTextDumper)
            with (
                self.conn.transaction(),
                cursor.copy(copy_stmt) as copy,
                closing(self._pages((query,) if queries is None else queries, stats, read_ahead=scan is None)) as pages,
            ):
                copy.set_types(
                    types
                )  # binary: the server copies each value as sent (a payload's text it parses as jsonb)
                for page in pages:
                    for record, text in zip(page.records, page.texts, strict=True):
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
                        if "\\u0000" in text and (nul := _nul_field(record)) is not None:
                            rejects.append(
                                _nul_rejection(self.entity, record, key, nul, text, partition_key, self.run_id)
                            )
                            continue
                        copy.write_row(row(listed, key, text, day))
                    if scan and scan.done:
                        scan.stopped = True
                        break
        finally:
            result.stats.add(stats)
        result.rows_listed = listed
        result.api_total = stats.total
        return rejects

    def _pages(self, queries: Sequence[Mapping[str, str]], stats: ListingStats, *, read_ahead: bool) -> Iterator[Page]:
        """The pages of each listing of ``queries`` in turn; each is checked against its own ``total``."""
        for query in queries:
            listing = ListingStats()
            try:
                yield from self.client.iter_pages(self.entity, query, listing, read_ahead=read_ahead)
            finally:
                stats.add(listing)
                stats.total = listing.total if len(queries) == 1 else None

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
        with casts.for_server(self.conn):  # the server's own date check when it has one (16+)
            ok = casts.date_ok(text)
        return sql.SQL("coalesce(CASE WHEN {ok} THEN {text}::date END, %(history)s::date)").format(ok=ok, text=text)

    def _apply(
        self,
        dates: DateRange | None,
        result: LoadResult,
        listed: int,
        repeated: int,
        *,
        soft_delete: bool = True,
        parents: Sequence[str] = (),
    ) -> None:
        """Write the staged listing (``listed`` distinct ids, ``repeated`` more records of them),
        count each kind of change and the earliest date touched.

        Without ``soft_delete`` (an incremental read) a row not listed is left as it is, except
        a row of one of ``parents``, whose rows were listed whole.
        Loads of one table (of one schema) take turns from here to their commit (an advisory lock taken
        before the load writes anything), so what a load reads of the table holds until it
        commits. A table with no row at all takes the listing in one plain ``INSERT``:
        nothing to compare, to conflict with or to soft-delete.
        """
        take_turn(self.conn, "raw", self.entity.raw_table)
        staged = sql.SQL("raw_stage")
        if repeated:  # only then sorted, to keep each id's last record
            staged = sql.SQL(
                "(SELECT DISTINCT ON (id) id, content_hash, payload, business_date FROM raw_stage ORDER BY id, ord DESC)"
            )
        if not self._has_rows():
            insert = sql.SQL(
                """
                WITH written AS (
                INSERT INTO {table} AS t (id, payload, content_hash, business_date, last_run_id)
                SELECT id, payload::jsonb, content_hash, business_date, %(run)s FROM {staged} AS s
                RETURNING {new} AS affects
                )
                SELECT count(*), min(affects) FROM written
                """
            ).format(table=self.table, staged=staged, new=self._affects_from("t"))
            result.inserted, result.touched_from = self.conn.execute(
                insert, {"run": self.run_id, **self._dated()}
            ).fetchone()
            result.rows_in_table = result.inserted
            return
        # The upsert is planned on the staged row count and on ids being distinct (not on the
        # payloads), which a sample of 3,000 rows tells as well as the default 30,000 (whose
        # sampling and sorting took 0.12 s of a 78k-record re-sync's 0.37 s of statements).
        self.conn.execute("ALTER TABLE raw_stage ALTER COLUMN id SET STATISTICS 10")
        self.conn.execute("ANALYZE raw_stage (id)")
        # The join hashes the stored ids and hashes: at the default 4 MB a 100k-row table
        # spilled to disk in batches; this is the most it may take, not what it takes.
        self.conn.execute("SET LOCAL work_mem = '32MB'")
        inserted, written, upserted_from = self._upsert(staged)
        result.inserted = inserted
        result.updated = written - inserted
        result.unchanged = listed - written
        count = sql.SQL("SELECT count(*) FROM {table} WHERE deleted_at IS NULL").format(table=self.table)
        live = self.conn.execute(count).fetchone()[0]
        deleted_from = None
        # Every listed id is live now: a whole listing with as many ids as live rows left none to soft-delete.
        if parents or (soft_delete and (dates is not None or live > listed)):
            result.soft_deleted, deleted_from = self._soft_delete(dates, parents)
        touched = [d for d in (upserted_from, deleted_from) if d is not None]
        result.touched_from = min(touched, default=None)
        result.rows_in_table = live - result.soft_deleted

    def _upsert(self, staged: sql.Composable) -> tuple[int, int, dt.date | None]:
        """Write the staged records that changed: how many were inserted, how many written, and
        the earliest date they affect.

        It compares before it writes: a record goes on to ``INSERT … ON CONFLICT`` only when
        no live row holds its hash, so an unchanged row is neither parsed nor locked (``ON
        CONFLICT … WHERE`` would lock each one it skips). A row loaded before hashes were
        taken in the loader holds ``md5(payload::text)``, the hash the server took then; it
        counts as unchanged when that is the listed record's too, so such rows are not
        rewritten.

        The CTE returns what each written row affects now; the outer query joins the table as
        it was before the statement, so a row moved to another date (or a lease to another
        start) counts from the earlier of the two.
        """
        upsert = sql.SQL(
            """
            WITH written AS (
            INSERT INTO {table} AS t (id, payload, content_hash, business_date, last_run_id)
            SELECT s.id, s.payload::jsonb, s.content_hash, s.business_date, %(run)s
            FROM {staged} AS s LEFT JOIN {table} AS stored ON stored.id = s.id
            WHERE stored.id IS NULL OR stored.deleted_at IS NOT NULL
               OR (stored.content_hash <> s.content_hash AND stored.content_hash <> md5(s.payload::jsonb::text))
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
        ).format(table=self.table, staged=staged, new=self._affects_from("t"), old=self._affects_from("prior"))
        return self.conn.execute(upsert, {"run": self.run_id, **self._dated()}).fetchone()

    def _soft_delete(self, dates: DateRange | None, parents: Sequence[str] = ()) -> tuple[int, dt.date | None]:
        """Mark deleted the live rows (of ``dates``, or of ``parents``, if given) the listing no longer
        holds: how many, and the earliest date they affect."""
        scope = sql.SQL("")
        if dates is not None:
            scope = sql.SQL("AND t.business_date BETWEEN %(start)s AND %(end)s")
        elif parents:
            scope = sql.SQL("AND {parent} = ANY(%(parents)s)").format(
                parent=incremental.parent_of(self.entity.parent, "t")
            )
        vanished = sql.SQL(
            """
            WITH gone AS (
            UPDATE {table} AS t SET deleted_at = now(), last_changed_at = now(), last_run_id = %(run)s
            WHERE t.deleted_at IS NULL {scope}
              AND NOT EXISTS (SELECT 1 FROM raw_stage s WHERE s.id = t.id)
            RETURNING {affects} AS affects
            )
            SELECT count(*), min(affects) FROM gone
            """
        ).format(table=self.table, scope=scope, affects=self._affects_from("t"))
        bounds = {"start": dates.start, "end": dates.end} if dates else {"parents": list(parents)}
        count, earliest = self.conn.execute(vanished, {"run": self.run_id, **self._dated(), **bounds}).fetchone()
        return count, earliest
