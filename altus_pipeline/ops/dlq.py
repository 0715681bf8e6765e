"""Writing to the dead-letter queue, ``doorloop_error_records``.

A failure is identified by entity, DoorLoop id, stage and payload hash: seeing the same
failure again bumps ``attempts`` and ``last_seen_at`` instead of adding a row.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass

import psycopg

from altus_pipeline.doorloop.registry import Entity


@dataclass(frozen=True)
class Failure:
    """One record or request that could not be processed, with its reason."""

    entity: str
    doorloop_id: str
    stage: str
    asset_key: str
    partition_key: str | None
    payload: str | None
    payload_hash: str
    error_class: str
    field: str | None
    message: str
    run_id: str | None

    @classmethod
    def of_raw(
        cls, entity: Entity, partition_key: str | None, run_id: str, *, stage: str, payload: str | None,
        hash_source: str, error_class: str, field: str | None, message: str, doorloop_id: str = "",
    ) -> "Failure":
        """A failure of the raw asset of ``entity`` (``doorloop_id`` empty when there is no usable one)."""
        return cls(
            entity=entity.name, doorloop_id=doorloop_id, stage=stage, asset_key=entity.raw_table,
            partition_key=partition_key, payload=payload, payload_hash=payload_hash(hash_source),
            error_class=error_class, field=field, message=message, run_id=run_id,
        )


def payload_hash(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _upsert() -> str:
    """The upsert of ``ops.retry``: attempts, status and the next retry time (backoff with jitter)."""
    from altus_pipeline.ops.retry import upsert_sql

    return upsert_sql()


def record_failures(conn: psycopg.Connection, failures: list[Failure]) -> None:
    """Add or bump DLQ rows for ``failures`` in one batched statement."""
    if failures:
        with conn.cursor() as cur:
            cur.executemany(_upsert(), [astuple(f) for f in failures])
