"""Every statement on ``doorloop_error_records``: record, resolve, plan retries, list, act.

The lifecycle these statements move a record through is in ``model``. Names come from
``psycopg.sql``; values (policy numbers, run ids, ranges) are bound as parameters.
Statements that other modules embed in a larger one (``waiting_sql``) take the spec's own
constants as ``sql.Literal`` and carry no parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from altus_pipeline.dlq.model import ACTIVE, NORMALIZE, STATUSES, Failure, RetryPolicy
from altus_pipeline.partitions import DateRange

_TABLE = sql.Identifier("doorloop_error_records")


def _policy_params(policy: RetryPolicy) -> dict[str, Any]:
    return {"max_attempts": policy.max_attempts, "base_seconds": policy.base_seconds, "cap_seconds": policy.cap_seconds}


def _delay(attempts: sql.Composable) -> sql.Composable:
    """The jittered backoff after ``attempts`` failures, an interval (parameters: ``_policy_params``)."""
    return sql.SQL(
        "make_interval(secs => least(%(cap_seconds)s::float8, "
        "%(base_seconds)s::float8 * power(2, greatest(0, ({attempts}) - 1))) * (0.5 + random()))"
    ).format(attempts=attempts)


# -- recording failures -------------------------------------------------------------------------


def upsert_sql() -> sql.Composed:
    """The DLQ upsert: insert a failure, or count one more attempt of the same failure.

    Parameters: the fields of a ``Failure`` by name, and ``_policy_params``.
    """
    new_status = sql.SQL(
        "CASE WHEN e.status = 'ignored' THEN 'ignored' "
        "WHEN e.status = 'resolved' THEN 'open' "
        "WHEN e.attempts + 1 >= %(max_attempts)s::int THEN 'dead' "
        "WHEN EXCLUDED.error_class = 'transient' AND e.status = 'retrying' THEN 'retrying' "
        "ELSE 'open' END"
    )
    new_attempts = sql.SQL("CASE WHEN e.status = 'resolved' THEN 1 ELSE e.attempts + 1 END")
    return sql.SQL("""
INSERT INTO {table} AS e
    (entity, doorloop_id, stage, asset_key, partition_key, payload, payload_hash,
     error_class, field, message, run_id, status, next_retry_at)
SELECT v.entity, v.doorloop_id, v.stage, v.asset_key, v.partition_key, v.payload::jsonb, v.payload_hash,
       v.error_class, v.field, v.message, v.run_id,
       CASE WHEN %(max_attempts)s::int <= 1 THEN 'dead' ELSE 'open' END,
       CASE WHEN v.error_class = 'transient' AND %(max_attempts)s::int > 1 THEN now() + {first_delay} END
FROM (VALUES (%(entity)s, %(doorloop_id)s, %(stage)s, %(asset_key)s, %(partition_key)s::text, %(payload)s::text,
              %(payload_hash)s, %(error_class)s, %(field)s::text, %(message)s, %(run_id)s::text))
    AS v (entity, doorloop_id, stage, asset_key, partition_key, payload, payload_hash, error_class, field, message,
          run_id)
ON CONFLICT ON CONSTRAINT doorloop_error_records_failure_key DO UPDATE
SET attempts = {new_attempts},
    last_seen_at = now(),
    message = EXCLUDED.message,
    field = EXCLUDED.field,
    error_class = EXCLUDED.error_class,
    partition_key = EXCLUDED.partition_key,
    run_id = EXCLUDED.run_id,
    resolved_at = CASE WHEN e.status = 'ignored' THEN e.resolved_at END,
    status = {new_status},
    next_retry_at = CASE WHEN EXCLUDED.error_class = 'transient' AND ({new_status}) IN ('open', 'retrying')
                         THEN now() + {delay} END
""").format(
        table=_TABLE,
        first_delay=_delay(sql.SQL("1")),
        new_attempts=new_attempts,
        new_status=new_status,
        delay=_delay(new_attempts),
    )


def record_failures(conn: psycopg.Connection, failures: list[Failure], policy: RetryPolicy | None = None) -> None:
    """Add or bump DLQ rows for ``failures`` in one batched statement."""
    if failures:
        params = _policy_params(policy or RetryPolicy.from_env())
        with conn.cursor() as cur:
            cur.executemany(upsert_sql(), [{**asdict(f), **params} for f in failures])


def record_normalize_rejects(
    conn: psycopg.Connection, entity: str, asset_key: str, run_id: str, checked: sql.Identifier
) -> None:
    """Record the rows of ``checked`` that carry an error (``err``: field, message) as normalize failures.

    ``checked`` holds ``doorloop_id``, ``payload``, ``content_hash`` and ``err``. A repeat of the
    same failure with the same message writes nothing, so a run that changes nothing stays empty.
    """
    conn.execute(
        sql.SQL(
            "INSERT INTO {table} AS e (entity, doorloop_id, stage, asset_key, partition_key, payload, "
            "payload_hash, error_class, field, message, run_id) "
            "SELECT %(entity)s, c.doorloop_id, %(stage)s, %(asset)s, NULL, c.payload, c.content_hash, "
            "'validation', c.err[1], %(prefix)s || c.doorloop_id || ': ' || c.err[2], %(run)s "
            "FROM {checked} c WHERE c.err IS NOT NULL "
            "ON CONFLICT ON CONSTRAINT doorloop_error_records_failure_key DO UPDATE "
            "SET attempts = e.attempts + 1, last_seen_at = now(), field = EXCLUDED.field, message = EXCLUDED.message, "
            "run_id = EXCLUDED.run_id, resolved_at = NULL, "
            "status = CASE WHEN e.status = 'resolved' THEN 'open' ELSE e.status END "
            "WHERE e.status = 'resolved' OR e.message IS DISTINCT FROM EXCLUDED.message"
        ).format(table=_TABLE, checked=checked),
        {"entity": entity, "stage": NORMALIZE, "asset": asset_key, "prefix": entity + " ", "run": run_id},
    )


# -- resolution -------------------------------------------------------------------------------

_IN_RANGE = sql.SQL(
    "split_part(partition_key, '...', 1) >= %(start)s "
    "AND coalesce(nullif(split_part(partition_key, '...', 2), ''), partition_key) <= %(end)s"
)


def resolve_loaded(conn: psycopg.Connection, asset_key: str, dates: DateRange | None, run_id: str) -> int:
    """Resolve the extract/validate records of ``asset_key`` that this successful load covered.

    A record is covered when its partition (or partition range) lies within the loaded
    range; a whole listing (``dates`` None) covers every record of the asset, also those
    that belong to no partition, which no ranged load can see. Validate records seen again
    by this very run (their ``run_id`` is this run) stay open.
    """
    scope = sql.SQL("TRUE") if dates is None else sql.SQL("partition_key IS NOT NULL AND {}").format(_IN_RANGE)
    params: dict[str, Any] = {"asset": asset_key, "run": run_id, "active": list(ACTIVE)}
    if dates is not None:
        params.update(start=dates.start.isoformat(), end=dates.end.isoformat())
    return conn.execute(
        sql.SQL(
            "UPDATE {table} SET status = 'resolved', resolved_at = now(), next_retry_at = NULL "
            "WHERE asset_key = %(asset)s AND stage IN ('extract', 'validate') AND status = ANY(%(active)s) "
            "AND run_id IS DISTINCT FROM %(run)s AND {scope}"
        ).format(table=_TABLE, scope=scope),
        params,
    ).rowcount


def resolve_normalized(
    conn: psycopg.Connection,
    entity: str,
    run_id: str,
    checked: sql.Identifier,
    raw: sql.Identifier,
    live: sql.Composable,
) -> int:
    """Resolve the normalize records of ``entity`` whose row now loads, whose raw row changed, or
    that left raw (no row of ``raw`` aliased ``r`` is ``live`` for it any more).

    ``checked`` (one row per ``doorloop_id``, no index) is joined on the id alone: an ``EXISTS``
    correlated on the hash too would scan it once per open record (past 13 minutes for one
    table of 89k candidates with 28k rejects)."""
    return conn.execute(
        sql.SQL(
            "UPDATE {table} e SET status = 'resolved', resolved_at = now(), last_seen_at = now(), "
            "run_id = %(run)s FROM (SELECT d.id FROM {table} d LEFT JOIN {checked} c ON c.doorloop_id = d.doorloop_id "
            "WHERE d.entity = %(entity)s AND d.stage = %(stage)s AND d.status IN ('open', 'retrying', 'dead') AND ("
            "(c.doorloop_id IS NOT NULL AND (c.err IS NULL OR c.content_hash <> d.payload_hash)) "
            "OR NOT EXISTS (SELECT 1 FROM {raw} r WHERE r.id = d.doorloop_id AND {live}))) x WHERE e.id = x.id"
        ).format(table=_TABLE, checked=checked, raw=raw, live=live),
        {"run": run_id, "entity": entity, "stage": NORMALIZE},
    ).rowcount


def count_normalize_retries(
    conn: psycopg.Connection, entity: str, run_id: str, policy: RetryPolicy | None = None
) -> None:
    """A retry requested for a normalize record that still fails counts as an attempt; the last
    one leaves it dead. Plain re-runs (status open) write nothing, so a no-change run stays empty."""
    conn.execute(
        sql.SQL(
            "UPDATE {table} e SET attempts = e.attempts + 1, last_seen_at = now(), "
            "next_retry_at = NULL, run_id = %(run)s, "
            "status = CASE WHEN e.attempts + 1 >= %(max_attempts)s::int THEN 'dead' ELSE 'open' END "
            "WHERE e.entity = %(entity)s AND e.stage = %(stage)s AND e.status = 'retrying'"
        ).format(table=_TABLE),
        {
            "run": run_id,
            "max_attempts": (policy or RetryPolicy.from_env()).max_attempts,
            "entity": entity,
            "stage": NORMALIZE,
        },
    )


def waiting_sql(entity: str, raw: sql.Identifier, live: sql.Composable) -> sql.Composable:
    """A scalar subquery: the distinct rows of ``entity`` waiting in the DLQ (stage normalize)
    whose raw row (``raw`` aliased ``r``) is still ``live``. Spec constants inlined: no parameters."""
    return sql.SQL(
        "(SELECT count(DISTINCT e.doorloop_id) FROM {table} e WHERE e.entity = {entity} "
        "AND e.stage = {stage} AND e.status <> 'resolved' AND EXISTS "
        "(SELECT 1 FROM {raw} r WHERE r.id = e.doorloop_id AND {live}))"
    ).format(table=_TABLE, entity=sql.Literal(entity), stage=sql.Literal(NORMALIZE), raw=raw, live=live)


def resolved_since(conn: psycopg.Connection, since_micros: int | None) -> tuple[int | None, int, str | None, list[str]]:
    """Raw (extract/validate) records resolved after the watermark: the newest resolution
    (µs since the epoch), their count, their first partition day and their assets."""
    return conn.execute(
        sql.SQL(
            "SELECT (extract(epoch FROM max(resolved_at)) * 1000000)::bigint, count(*), "
            "min(split_part(partition_key, '...', 1)), array_agg(DISTINCT asset_key) FROM {table} "
            "WHERE status = 'resolved' AND stage IN ('extract', 'validate') "
            "AND (%(since)s::bigint IS NULL OR resolved_at > to_timestamp(%(since)s::bigint / 1000000.0))"
        ).format(table=_TABLE),
        {"since": since_micros},
    ).fetchone()


# -- the sensors' view: due records, failed runs, dead records -----------------------------------


@dataclass(frozen=True)
class DueGroup:
    """Due records of one asset (and partition or range): one retry run."""

    asset_key: str
    stage: str
    partition_key: str | None
    record_ids: tuple[int, ...]
    attempts: int
    generation: str  # changes whenever a record is scheduled again: part of the run key

    @property
    def run_key(self) -> str:
        return f"dlq:{self.asset_key}:{self.partition_key or '-'}:{self.attempts}:{self.generation}"


_DUE = sql.SQL("""
SELECT asset_key, CASE WHEN stage = 'normalize' THEN 'normalize' ELSE 'raw' END AS kind,
       CASE WHEN stage = 'normalize' THEN NULL ELSE partition_key END AS part,
       array_agg(id ORDER BY id), max(attempts), (extract(epoch FROM max(next_retry_at)) * 1000)::bigint
FROM {table}
WHERE status IN ('open', 'retrying') AND next_retry_at IS NOT NULL AND next_retry_at <= now()
GROUP BY 1, 2, 3
ORDER BY min(next_retry_at), 1, 3
LIMIT %s
""").format(table=_TABLE)


def due_groups(conn: psycopg.Connection, limit: int = 200) -> list[DueGroup]:
    """Records whose retry is due, grouped by the asset partition (range) a run must rebuild."""
    return [
        DueGroup(asset, kind, part, tuple(ids), attempts, str(gen))
        for asset, kind, part, ids, attempts, gen in conn.execute(_DUE, (limit,)).fetchall()
    ]


def mark_requested(conn: psycopg.Connection, ids: list[int], policy: RetryPolicy | None = None) -> int:
    """Records whose retry run was requested: ``retrying``; transient ones get a lease
    (due again only if no run reports back), others wait for the next explicit retry."""
    p = policy or RetryPolicy.from_env()
    return conn.execute(
        sql.SQL(
            "UPDATE {table} SET status = 'retrying', next_retry_at = CASE WHEN error_class = 'transient' "
            "THEN now() + make_interval(secs => %(lease)s::float8) END "
            "WHERE id = ANY(%(ids)s) AND status IN ('open', 'retrying')"
        ).format(table=_TABLE),
        {"lease": p.lease_seconds, "ids": ids},
    ).rowcount


def payloads_field(conn: psycopg.Connection, ids: tuple[int, ...], name: str) -> list[Any]:
    """The top-level field ``name`` of each record's payload (text; None where missing)."""
    return [
        row[0]
        for row in conn.execute(
            sql.SQL("SELECT payload ->> %s FROM {table} WHERE id = ANY(%s)").format(table=_TABLE), (name, list(ids))
        ).fetchall()
    ]


def extract_recorded(conn: psycopg.Connection, run_id: str) -> set[str]:
    """The assets the run itself recorded an extract failure of."""
    return {
        row[0]
        for row in conn.execute(
            sql.SQL("SELECT asset_key FROM {table} WHERE run_id = %s AND stage = 'extract'").format(table=_TABLE),
            (run_id,),
        ).fetchall()
    }


def dead_since(conn: psycopg.Connection, since_micros: int, overlap: str, limit: int) -> list[tuple]:
    """Records that went ``dead`` after the watermark less ``overlap`` (an interval), oldest first:
    id, attempts, entity, stage, error_class, asset_key, partition_key, message, run_id and
    ``last_seen_at`` in µs since the epoch."""
    return conn.execute(
        sql.SQL(
            "SELECT id, attempts, entity, stage, error_class, asset_key, partition_key, message, run_id, "
            "(extract(epoch FROM last_seen_at) * 1000000)::bigint FROM {table} "
            "WHERE status = 'dead' AND last_seen_at > to_timestamp(%s / 1000000.0) - %s::interval "
            "ORDER BY last_seen_at, id LIMIT %s"
        ).format(table=_TABLE),
        (since_micros, overlap, limit),
    ).fetchall()


# -- operator actions (altus dlq ...) ---------------------------------------------------------


_COLUMNS = (
    "id",
    "entity",
    "doorloop_id",
    "stage",
    "asset_key",
    "partition_key",
    "error_class",
    "field",
    "message",
    "attempts",
    "next_retry_at",
    "status",
    "first_seen_at",
    "last_seen_at",
    "resolved_at",
    "note",
)


def list_records(
    conn: psycopg.Connection, entity: str | None = None, status: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    rows = conn.execute(
        sql.SQL(
            "SELECT {columns} FROM {table} "
            "WHERE (%(entity)s::text IS NULL OR entity = %(entity)s) AND (%(status)s::text IS NULL OR status = %(status)s) "
            "ORDER BY last_seen_at DESC, id DESC LIMIT %(limit)s"
        ).format(columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)), table=_TABLE),
        {"entity": entity, "status": status, "limit": limit},
    ).fetchall()
    return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]


def request_retry(conn: psycopg.Connection, entity: str | None = None, record_id: int | None = None) -> int:
    """Make matching open, retrying or dead records due now (the DLQ sensor's next tick runs them).

    An explicit retry is how permanent and validation failures are retried; a dead record
    gets one more attempt (failing again leaves it dead).
    """
    return conn.execute(
        sql.SQL(
            "UPDATE {table} SET status = 'retrying', next_retry_at = now(), "
            "note = 'retry requested by hand at ' || now()::text "
            "WHERE status = ANY(%(active)s) AND (%(entity)s::text IS NULL OR entity = %(entity)s) "
            "AND (%(id)s::bigint IS NULL OR id = %(id)s)"
        ).format(table=_TABLE),
        {"active": list(ACTIVE), "entity": entity, "id": record_id},
    ).rowcount


def ignore(conn: psycopg.Connection, record_id: int, reason: str) -> bool:
    """Mark one record ``ignored`` with the operator's reason; it is never retried again."""
    if not reason.strip():
        raise ValueError("a reason is required to ignore a record")
    return (
        conn.execute(
            sql.SQL(
                "UPDATE {table} SET status = 'ignored', next_retry_at = NULL, resolved_at = now(), "
                "note = %s WHERE id = %s AND status <> 'ignored'"
            ).format(table=_TABLE),
            (reason.strip(), record_id),
        ).rowcount
        == 1
    )
