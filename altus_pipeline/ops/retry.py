"""The dead-letter queue's state machine: backoff, due records, resolution, operator actions.

States of a ``doorloop_error_records`` row::

    open ──(sensor requests a retry)──▶ retrying ──▶ resolved | dead | ignored
      ▲                                    │
      └──── (the retry failed again, attempts left; permanent/validation only) ──┘

* ``transient`` failures (5xx, timeouts, inconsistent listings, failed runs) get a
  ``next_retry_at`` = now + min(cap, base · 2^(attempts-1)) · jitter (jitter uniform in
  [0.5, 1.5)); the DLQ sensor retries them when due.
* ``permanent`` (401, 405, other 4xx) and ``validation`` failures get no ``next_retry_at``:
  they are not retried blindly. ``altus dlq retry`` makes them due now; the next run that
  reads their data (the daily schedule, a sync) or, for normalize records, a change of the
  raw row resolves them too.
* Every recurrence of the same failure (same entity, id, stage, payload hash) counts as an
  attempt; at ``max_attempts`` the record is ``dead`` (still retryable by hand: one more
  try each time). A recurrence of a ``resolved`` failure is a new incident (attempts 1);
  an ``ignored`` one stays ignored.
* A successful load of an asset (partition range) resolves its extract and validate
  records inside that range that the load did not see again; a whole listing (a snapshot,
  or a reconcile's unfiltered one) resolves those of every partition and of none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from altus_pipeline.settings import env_number

if TYPE_CHECKING:
    from altus_pipeline.raw.load import DateRange

STATUSES = ("open", "retrying", "resolved", "dead", "ignored")
ACTIVE = ("open", "retrying", "dead")  # states a successful load or an operator retry can leave


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long the DLQ retries (environment: ``ALTUS_DLQ_*``)."""

    max_attempts: int = 5
    base_seconds: float = 60.0
    cap_seconds: float = 6 * 3600.0
    lease_seconds: float = 3600.0  # a requested transient retry whose run never reported is due again after this

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        def number(name: str, default: float) -> float:
            return env_number(f"ALTUS_DLQ_{name}", default)

        return cls(
            max_attempts=max(1, int(number("MAX_ATTEMPTS", cls.max_attempts))),
            base_seconds=number("BACKOFF_BASE_SECONDS", cls.base_seconds),
            cap_seconds=number("BACKOFF_CAP_SECONDS", cls.cap_seconds),
            lease_seconds=number("LEASE_SECONDS", cls.lease_seconds),
        )

    def backoff_seconds(self, attempts: int, jitter: float = 1.0) -> float:
        """Delay before retry number ``attempts`` (``jitter`` in [0.5, 1.5))."""
        return min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1)) * jitter

    def delay_sql(self, attempts_sql: str) -> str:
        """SQL interval: the jittered backoff after ``attempts_sql`` failures (numbers inlined)."""
        return (
            f"make_interval(secs => least({self.cap_seconds!r}::float8, "
            f"{self.base_seconds!r}::float8 * power(2, greatest(0, ({attempts_sql}) - 1))) * (0.5 + random()))"
        )


def upsert_sql(policy: RetryPolicy | None = None) -> str:
    """The DLQ upsert: insert a failure, or count one more attempt of the same failure.

    Parameters, in ``Failure`` field order: entity, doorloop_id, stage, asset_key,
    partition_key, payload, payload_hash, error_class, field, message, run_id.
    """
    p = policy or RetryPolicy.from_env()
    new_status = (
        "CASE WHEN e.status = 'ignored' THEN 'ignored' "
        "WHEN e.status = 'resolved' THEN 'open' "
        f"WHEN e.attempts + 1 >= {p.max_attempts} THEN 'dead' "
        "WHEN EXCLUDED.error_class = 'transient' AND e.status = 'retrying' THEN 'retrying' "
        "ELSE 'open' END"
    )
    new_attempts = "CASE WHEN e.status = 'resolved' THEN 1 ELSE e.attempts + 1 END"
    first_status = f"CASE WHEN {p.max_attempts} <= 1 THEN 'dead' ELSE 'open' END"
    return f"""
INSERT INTO doorloop_error_records AS e
    (entity, doorloop_id, stage, asset_key, partition_key, payload, payload_hash,
     error_class, field, message, run_id, status, next_retry_at)
SELECT v.entity, v.doorloop_id, v.stage, v.asset_key, v.partition_key, v.payload::jsonb, v.payload_hash,
       v.error_class, v.field, v.message, v.run_id, {first_status},
       CASE WHEN v.error_class = 'transient' AND {p.max_attempts} > 1 THEN now() + {p.delay_sql('1')} END
FROM (VALUES (%s, %s, %s, %s, %s::text, %s::text, %s, %s, %s::text, %s, %s::text))
    AS v (entity, doorloop_id, stage, asset_key, partition_key, payload, payload_hash, error_class, field, message, run_id)
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
                         THEN now() + {p.delay_sql(new_attempts)} END
"""


# -- resolution after a successful load ---------------------------------------------------------

_IN_RANGE = (
    "split_part(partition_key, '...', 1) >= %(start)s "
    "AND coalesce(nullif(split_part(partition_key, '...', 2), ''), partition_key) <= %(end)s"
)


def resolve_loaded(conn: psycopg.Connection, asset_key: str, dates: "DateRange | None", run_id: str) -> int:
    """Resolve the extract/validate records of ``asset_key`` that this successful load covered.

    A record is covered when its partition (or partition range) lies within the loaded
    range; a whole listing (``dates`` None) covers every record of the asset, also those
    that belong to no partition, which no ranged load can see. Validate records seen again
    by this very run (their ``run_id`` is this run) stay open.
    """
    scope = "TRUE" if dates is None else f"partition_key IS NOT NULL AND {_IN_RANGE}"
    params: dict[str, Any] = {"asset": asset_key, "run": run_id, "active": list(ACTIVE)}
    if dates is not None:
        params.update(start=dates.start.isoformat(), end=dates.end.isoformat())
    return conn.execute(
        "UPDATE doorloop_error_records SET status = 'resolved', resolved_at = now(), next_retry_at = NULL "
        "WHERE asset_key = %(asset)s AND stage IN ('extract', 'validate') AND status = ANY(%(active)s) "
        f"AND run_id IS DISTINCT FROM %(run)s AND {scope}",
        params,
    ).rowcount


# -- the sensor's view: due records ---------------------------------------------------------------


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


_DUE = """
SELECT asset_key, CASE WHEN stage = 'normalize' THEN 'normalize' ELSE 'raw' END AS kind,
       CASE WHEN stage = 'normalize' THEN NULL ELSE partition_key END AS part,
       array_agg(id ORDER BY id), max(attempts), (extract(epoch FROM max(next_retry_at)) * 1000)::bigint
FROM doorloop_error_records
WHERE status IN ('open', 'retrying') AND next_retry_at IS NOT NULL AND next_retry_at <= now()
GROUP BY 1, 2, 3
ORDER BY min(next_retry_at), 1, 3
LIMIT %s
"""


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
        "UPDATE doorloop_error_records SET status = 'retrying', next_retry_at = CASE WHEN error_class = 'transient' "
        f"THEN now() + make_interval(secs => {p.lease_seconds!r}::float8) END "
        "WHERE id = ANY(%s) AND status IN ('open', 'retrying')",
        (ids,),
    ).rowcount


# -- operator actions (altus dlq ...) ---------------------------------------------------------


_COLUMNS = ("id", "entity", "doorloop_id", "stage", "asset_key", "partition_key", "error_class", "field",
            "message", "attempts", "next_retry_at", "status", "first_seen_at", "last_seen_at", "resolved_at", "note")


def list_records(
    conn: psycopg.Connection, entity: str | None = None, status: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    rows = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM doorloop_error_records "
        "WHERE (%(entity)s::text IS NULL OR entity = %(entity)s) AND (%(status)s::text IS NULL OR status = %(status)s) "
        "ORDER BY last_seen_at DESC, id DESC LIMIT %(limit)s",
        {"entity": entity, "status": status, "limit": limit},
    ).fetchall()
    return [dict(zip(_COLUMNS, row)) for row in rows]


def request_retry(conn: psycopg.Connection, entity: str | None = None, record_id: int | None = None) -> int:
    """Make matching open, retrying or dead records due now (the DLQ sensor's next tick runs them).

    An explicit retry is how permanent and validation failures are retried; a dead record
    gets one more attempt (failing again leaves it dead).
    """
    return conn.execute(
        "UPDATE doorloop_error_records SET status = 'retrying', next_retry_at = now(), "
        "note = 'retry requested by hand at ' || now()::text "
        "WHERE status = ANY(%(active)s) AND (%(entity)s::text IS NULL OR entity = %(entity)s) "
        "AND (%(id)s::bigint IS NULL OR id = %(id)s)",
        {"active": list(ACTIVE), "entity": entity, "id": record_id},
    ).rowcount


def ignore(conn: psycopg.Connection, record_id: int, reason: str) -> bool:
    """Mark one record ``ignored`` with the operator's reason; it is never retried again."""
    if not reason.strip():
        raise ValueError("a reason is required to ignore a record")
    return conn.execute(
        "UPDATE doorloop_error_records SET status = 'ignored', next_retry_at = NULL, resolved_at = now(), "
        "note = %s WHERE id = %s AND status <> 'ignored'",
        (reason.strip(), record_id),
    ).rowcount == 1
