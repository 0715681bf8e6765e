"""The DoorLoop token never leaves the environment: checked on everything a real sync writes.

``altus --verbose sync`` runs against a sandbox that knows a token unique to this test and
refuses one endpoint (405), so the run also takes the error path (DLQ record, failed step,
the CLI's failure lines). The token must be absent from the CLI's stdout and stderr, from
the Dagster run, its tags, its event log and the snapshots it references (stored
compressed, so decompressed here), from every warehouse table the run wrote (each row cast
to text), and from every file under the project home (run logs, instance).
"""

from __future__ import annotations

import subprocess
import uuid
import zlib
from pathlib import Path

import psycopg
from psycopg import sql

from altus_pipeline_tests.raw.test_raw import ALTUS, REPO, _cli_env

TABLES = (
    "doorloop_api_call_log",
    "doorloop_error_records",
    "doorloop_pipeline_audit",
    "doorloop_raw_units",
    "doorloop_raw_owners",
)


def _dagster_rows(pg_url: str, run_ids: list[str]) -> dict[str, list[str]]:
    """Every stored row of the runs as text: the run (tags and config), its tags, events, snapshots."""
    with psycopg.connect(pg_url) as conn:
        runs = conn.execute(
            "SELECT run_body, snapshot_id FROM dagster.runs WHERE run_id = ANY(%s)", (run_ids,)
        ).fetchall()
        tags = conn.execute(
            "SELECT key || '=' || value FROM dagster.run_tags WHERE run_id = ANY(%s)", (run_ids,)
        ).fetchall()
        events = conn.execute("SELECT event FROM dagster.event_logs WHERE run_id = ANY(%s)", (run_ids,)).fetchall()
        snapshot_ids = [s for _, s in runs if s]
        snapshots = conn.execute(
            "SELECT snapshot_body FROM dagster.snapshots WHERE snapshot_id = ANY(%s)", (snapshot_ids,)
        ).fetchall()
    return {
        "runs": [b for b, _ in runs],
        "run_tags": [t for (t,) in tags],
        "event_logs": [e for (e,) in events],
        "snapshots": [zlib.decompress(bytes(b)).decode() for (b,) in snapshots],
    }


def test_a_sync_keeps_the_token_out_of_output_runs_events_and_tables(
    warehouse, sandbox_factory, small_dataset, tmp_path, pg_url, dagster_storage
):
    token = f"h6-secret-{uuid.uuid4().hex}"
    server = sandbox_factory(small_dataset, token=token, denied_paths=frozenset({"/owners"}))
    home = tmp_path / "home"
    env = _cli_env(
        warehouse,
        server,
        home,
        DOORLOOP_API_TOKEN=token,
        DOORLOOP_RATE_LIMIT_PER_MINUTE="1000",
        DOORLOOP_RATE_LIMIT_PER_HOUR="10000",
    )
    done = subprocess.run(
        [ALTUS, "--verbose", "sync", "--entity", "owners", "--entity", "units"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]  # owners refused (405), units loaded
    assert "doorloop_raw_owners" in done.stderr and "405" in output
    assert server.requests and all(e.status in (200, 405) for e in server.requests)
    assert token not in output

    with warehouse.connect() as conn:
        texts = {
            t: [r for (r,) in conn.execute(sql.SQL("SELECT x::text FROM {} x").format(sql.Identifier(t)))]
            for t in TABLES
        }
        run_ids = sorted({r for (r,) in conn.execute("SELECT run_id FROM doorloop_pipeline_audit")})
    assert texts["doorloop_api_call_log"] and texts["doorloop_error_records"] and texts["doorloop_raw_units"]
    assert len(run_ids) == 1, run_ids  # the one run of the master data both assets ran in
    stored = _dagster_rows(pg_url, run_ids)
    assert all(stored.values()), {k: len(v) for k, v in stored.items()}
    assert any("405" in e for e in stored["event_logs"])  # the failure is in the event log, without the token
    texts.update(stored)
    leaks = {where: sum(token in text for text in rows) for where, rows in texts.items()}
    assert not any(leaks.values()), leaks

    files = [p for p in Path(home).rglob("*") if p.is_file()]
    assert files, "the run writes its logs and instance under the project home"
    assert [str(p) for p in files if token.encode() in p.read_bytes()] == []
