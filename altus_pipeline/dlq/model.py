"""A dead-letter record: its shape, its states and the policy that retries it.

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

import hashlib
from dataclasses import dataclass

from altus_pipeline.doorloop.registry import Entity
from altus_pipeline.settings import env_number

STATUSES = ("open", "retrying", "resolved", "dead", "ignored")
ACTIVE = ("open", "retrying", "dead")  # states a successful load or an operator retry can leave
NORMALIZE = "normalize"  # the stage of records a normalized table rejected


@dataclass(frozen=True)
class Failure:
    """One record or request that could not be processed, with its reason.

    A failure is identified by entity, DoorLoop id, stage and payload hash: seeing the same
    failure again bumps ``attempts`` and ``last_seen_at`` instead of adding a row.
    """

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
        cls,
        entity: Entity,
        partition_key: str | None,
        run_id: str,
        *,
        stage: str,
        payload: str | None,
        hash_source: str,
        error_class: str,
        field: str | None,
        message: str,
        doorloop_id: str = "",
    ) -> Failure:
        """A failure of the raw asset of ``entity`` (``doorloop_id`` empty when there is no usable one)."""
        return cls(
            entity=entity.name,
            doorloop_id=doorloop_id,
            stage=stage,
            asset_key=entity.raw_table,
            partition_key=partition_key,
            payload=payload,
            payload_hash=payload_hash(hash_source),
            error_class=error_class,
            field=field,
            message=message,
            run_id=run_id,
        )


def payload_hash(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long the DLQ retries (environment: ``ALTUS_DLQ_*``)."""

    max_attempts: int = 5
    base_seconds: float = 60.0
    cap_seconds: float = 6 * 3600.0
    lease_seconds: float = 3600.0  # a requested transient retry whose run never reported is due again after this

    @classmethod
    def from_env(cls) -> RetryPolicy:
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
