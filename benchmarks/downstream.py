"""Downstream benchmark: normalize, a 365-day and a 1-day KPI run and every view refresh, per scale.

Run: ``.venv/bin/python benchmarks/downstream.py --scales small medium large --keep-schema bench_ds``

For each scale, the generated account is served by ``altus sandbox serve`` (its own process,
no rate limit) and read into the raw tables by the real raw loader, once. Then, as a user
runs them, each in its own process so its peak RSS is its own:

- ``altus normalize`` from an empty normalized layer (seconds, raw rows/s, peak RSS), then
  again with nothing changed;
- ``altus kpis --from D --to D`` over the 365 days up to the generator's as-of date, then
  over its last day alone, as the daily schedule runs it;
- each ``get_full_*`` view (and ``kpi_summary``'s count) refreshed on its own, twice: the
  first populates (plain ``REFRESH``), the second runs ``CONCURRENTLY`` as every later run does.

The figures of all scales are printed side by side with the machine's load (``uptime``), so
each layer's cost can be read as a function of the data. Nothing is asserted.

``--keep-schema NAME`` keeps the warehouse in schema ``NAME_<scale>`` and reuses its raw tables
on the next run (loading ``large``, 4.2 M records, takes minutes); without it each scale gets a
throwaway schema.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests
from psycopg import sql

from altus_pipeline.assets.views import VIEW_KEYS, refresh_view
from altus_pipeline.doorloop.client import DoorLoopClient
from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.normalized.spec import PENDING, TABLES, WATERMARKS
from altus_pipeline.raw.load import RawLoader
from altus_pipeline.sandbox.generator import DEFAULT_AS_OF
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import migrate

ALTUS = str(Path(sys.executable).with_name("altus"))
TOKEN = "bench-downstream"
KPI_DAYS = 365
KPI_END = DEFAULT_AS_OF - dt.timedelta(days=1)
KPI_START = KPI_END - dt.timedelta(days=KPI_DAYS - 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw_rows(wh: Warehouse) -> int:
    """Raw rows in the schema (0 when it has no raw tables yet)."""
    with wh.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE' "
                "AND table_name = ANY(%s)",
                (wh.schema, [e.raw_table for e in ENTITIES.values()]),
            ).fetchall()
        ]
        if len(tables) < len(ENTITIES):
            return 0
        return sum(
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0] for t in tables
        )


def load_raw(wh: Warehouse, scale: str) -> int:
    """Serve ``scale`` from a sandbox process and read every entity with the raw loader; return the rows."""
    port = _free_port()
    server = subprocess.Popen(
        [ALTUS, "sandbox", "serve", "--scale", scale, "--port", str(port), "--token", TOKEN, "--no-rate-limit"],
        stdout=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 900
        while True:
            try:
                if requests.get(f"{base_url}/accounts", headers={"Authorization": f"bearer {TOKEN}"}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the {scale} sandbox did not start")
            time.sleep(0.5)
        budget = LocalRateBudget(Limits(per_minute=None, per_hour=None))
        with DoorLoopClient(base_url, TOKEN, budget=budget) as client, wh.connect() as conn:
            for entity in ENTITIES.values():
                RawLoader(conn, client, entity, "bench-downstream").load()
                conn.commit()
    finally:
        server.terminate()
        server.wait()
    return _raw_rows(wh)


def reset_downstream(wh: Warehouse) -> None:
    """Empty the normalized layer and the KPI snapshot, so normalize starts as on a fresh warehouse."""
    objects = [name for t in TABLES.values() for name in t.objects]
    with wh.connect() as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(n) for n in [*objects, PENDING, WATERMARKS, "kpi_daily_snapshot"])
            )
        )
        conn.execute("DELETE FROM doorloop_error_records WHERE stage = 'normalize'")
        conn.commit()


def run_command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``altus ARGS`` in its own process; (wall seconds, peak RSS in MB). A failure stops the benchmark."""
    clock = time.monotonic()
    proc = subprocess.Popen([ALTUS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - clock
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"altus {' '.join(args)} failed:\n{output.decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1024


def bench_scale(base: Warehouse, scale: str, keep: str | None) -> dict[str, str]:
    """Every figure of one scale, formatted for the table."""
    wh = Warehouse(base.url, f"{keep}_{scale}" if keep else f"bench_ds_{uuid.uuid4().hex[:8]}")
    migrate(wh)
    figures: dict[str, str] = {}
    try:
        clock = time.monotonic()
        raw = _raw_rows(wh) if keep else 0
        if not raw:
            raw = load_raw(wh, scale)
            print(f"{scale}: raw load {raw:,d} rows in {time.monotonic() - clock:.0f}s", flush=True)
        figures["raw rows"] = f"{raw:,d}"
        with tempfile.TemporaryDirectory() as home:
            env = {
                **os.environ,
                "ALTUS_DATABASE_URL": base.url,
                "ALTUS_SCHEMA": wh.schema,
                "ALTUS_HOME": home,
                "ALTUS_PARTITION_START": (KPI_START - dt.timedelta(days=1)).isoformat(),
            }
            # a first command sets up Dagster's storage in a new database: not part of what is measured
            run_command(["normalize", "--entity", "accounts"], env)
            reset_downstream(wh)
            seconds, rss = run_command(["normalize"], env)
            figures.update(
                {
                    "normalize s": f"{seconds:.1f}",
                    "normalize raw rows/s": f"{raw / seconds:,.0f}",
                    "normalize peak RSS MB": f"{rss:.0f}",
                }
            )
            print(f"{scale}: normalize {seconds:.1f}s, {rss:.0f} MB", flush=True)
            seconds, rss = run_command(["normalize"], env)
            figures.update(
                {"normalize again, no change s": f"{seconds:.1f}", "normalize again peak RSS MB": f"{rss:.0f}"}
            )
            seconds, rss = run_command(["kpis", "--from", KPI_START.isoformat(), "--to", KPI_END.isoformat()], env)
            figures.update({f"kpis {KPI_DAYS} days s": f"{seconds:.1f}", "kpis peak RSS MB": f"{rss:.0f}"})
            print(f"{scale}: kpis {seconds:.1f}s", flush=True)
            seconds, _ = run_command(["kpis", "--from", KPI_END.isoformat(), "--to", KPI_END.isoformat()], env)
            figures["kpis 1 day (a daily run) s"] = f"{seconds:.1f}"
        with wh.connect(autocommit=True) as conn:
            for name in VIEW_KEYS:  # from unpopulated, as after a migration: first refresh plain, then concurrently
                conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {} WITH NO DATA").format(sql.Identifier(name)))
        for name in VIEW_KEYS:
            first, again = refresh_view(wh, name), refresh_view(wh, name)
            figures[f"{name} s"] = f"{first['duration_seconds']:.2f} / {again['duration_seconds']:.2f}"
            print(f"{scale}: {name} {figures[f'{name} s']}", flush=True)
    finally:
        if not keep:
            with psycopg.connect(base.url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(wh.schema)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=["small", "medium"], choices=["small", "medium", "large"])
    parser.add_argument("--keep-schema", metavar="NAME", help="keep and reuse the warehouse in schema NAME_<scale>")
    args = parser.parse_args()

    base = Warehouse.from_env()
    results = {scale: bench_scale(base, scale, args.keep_schema) for scale in args.scales}
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows = list(next(iter(results.values())))
    width = max(len(r) for r in rows)
    print(f"\nload: {load}\nviews: first refresh (plain) / second (CONCURRENTLY), seconds")
    print(f"| {'figure':{width}s} | " + " | ".join(f"{s:>14s}" for s in results) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 16 for _ in results) + "|")
    for row in rows:
        print(f"| {row:{width}s} | " + " | ".join(f"{results[s][row]:>14s}" for s in results) + " |")


if __name__ == "__main__":
    main()
