"""``doorloop_pipeline_audit``: one row per asset run or partition range, with its counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import psycopg

from altus_pipeline.doorloop.client import ListingStats
from altus_pipeline.raw.load import LoadResult


def record_audit(
    conn: psycopg.Connection,
    run_id: str,
    asset_key: str,
    partition_key: str | None,
    started: datetime,
    result: LoadResult,
) -> None:
    """Write the audit row in the caller's transaction, so it commits with the data."""
    conn.execute(
        """INSERT INTO doorloop_pipeline_audit
           (run_id, asset_key, partition_key, started_at, rows_in_table, rows_listed, api_total, inserted, updated,
            unchanged, soft_deleted, rejected, duplicates, api_requests, api_retries, seconds, touched_from)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            run_id,
            asset_key,
            partition_key,
            started,
            result.rows_in_table,
            result.rows_listed,
            result.api_total,
            result.inserted,
            result.updated,
            result.unchanged,
            result.soft_deleted,
            result.rejected,
            result.duplicates,
            result.stats.requests,
            result.stats.retries,
            round(result.stats.seconds, 3),
            result.touched_from,
        ),
    )


def record_run(
    conn: psycopg.Connection,
    run_id: str,
    asset_key: str,
    started: datetime,
    rows: int,
    result: LoadResult | None = None,
) -> None:
    """The audit row of a run that calls no API (a view refresh, a legal import): every run kind
    leaves one, so the audit answers "what ran, when, how long" for all of them."""
    seconds = (datetime.now(UTC) - started).total_seconds()
    counts = replace(result or LoadResult(rows_listed=rows), rows_in_table=rows, stats=ListingStats(seconds=seconds))
    record_audit(conn, run_id, asset_key, None, started, counts)
