"""Which KPI snapshots are stale: from the earliest date a raw load changed to today.

Balances, aging and occupancy are cumulative, so a back-dated payment, a voided charge or
a corrected lease makes every ``kpi_daily_snapshot`` row from its date onward wrong. Each
raw load records that date in ``doorloop_pipeline_audit.touched_from``; a load stays
pending until a later ``kpi_daily_snapshot`` run covers it (its range starts on or before
that date and reaches the day of the load). Read from the audit table alone, the answer is
the same for the sensor, ``altus kpis --stale`` and the UI, and unchanged history is never
rewritten. The UI (``history_current``) counts only loads after the first KPI run: before
it no snapshot existed to go stale, and dates never built show as missing, not stale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from altus_pipeline.assets.kpis import KPI_SOURCES, SNAPSHOT
from altus_pipeline.normalized.spec import TABLES
from altus_pipeline.partitions import clip_range

# The raw tables the KPI statement reads through the normalized layer.
KPI_RAW_KEYS: tuple[str, ...] = tuple(
    sorted({t.raw_table for t in TABLES.values() if set(t.objects) & set(KPI_SOURCES)})
)

_PENDING_SQL = """
SELECT (SELECT coalesce(max(id), 0) FROM doorloop_pipeline_audit), min(r.touched_from),
       coalesce(array_agg(DISTINCT r.asset_key), '{}')
FROM doorloop_pipeline_audit r
WHERE r.id > %(after)s AND r.asset_key = ANY(%(raw)s) AND r.touched_from IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM doorloop_pipeline_audit k
      WHERE k.asset_key = %(snapshot)s AND k.id > r.id
        AND left(k.partition_key, 10)::date <= r.touched_from
        AND right(k.partition_key, 10)::date >= r.finished_at::date)
"""
_FIRST_SNAPSHOT_SQL = "SELECT min(id) FROM doorloop_pipeline_audit WHERE asset_key = %s"


@dataclass(frozen=True)
class StaleKpis:
    """The KPI dates to recompute (None: none) as of audit row ``watermark``, the newest one read.

    ``sources`` names the raw assets whose pending loads made them stale.
    """

    dates: tuple[dt.date, dt.date] | None
    watermark: int
    sources: tuple[str, ...] = ()


def stale_kpis(conn: psycopg.Connection, after: int = 0) -> StaleKpis:
    """The stale KPI range from raw loads recorded after audit row ``after``, clipped to the partitions.

    A change dated before the partitions counts from their first day; one dated in the
    future touches no snapshot that exists yet.
    """
    watermark, first, sources = conn.execute(
        _PENDING_SQL, {"after": after, "raw": list(KPI_RAW_KEYS), "snapshot": SNAPSHOT}
    ).fetchone()
    dates = clip_range(first, dt.date.max) if first else None
    return StaleKpis(dates, watermark, tuple(sources) if dates else ())


def stale_history(conn: psycopg.Connection) -> StaleKpis:
    """The stale KPI range among snapshots already built: raw loads after the first KPI run.

    The UI's answer: a load before any KPI run left nothing stale, and counting it would
    flag every date a partial first build skipped.
    """
    first = conn.execute(_FIRST_SNAPSHOT_SQL, (SNAPSHOT,)).fetchone()[0]
    return StaleKpis(None, 0) if first is None else stale_kpis(conn, first)
