"""``altus sync`` as a whole command against its peers, on the same data and the same PostgreSQL.

Run: ``.venv/bin/python benchmarks/peers.py --scale medium --repetitions 3``

One ``altus sandbox export`` is served (rate limits off) by a sandbox process of this
benchmark, which counts the requests it answers. Three loaders read it, interleaved, each
repetition in a fresh schema of one PostgreSQL server started for the benchmark alone (so
its CPU is theirs):

* ``floor``: a bare loader written below, one ``requests`` session following the pagination
  and one COPY of the raw JSON per entity: what loading costs with nothing else;
* ``dlt``: a dlt ``rest_api`` pipeline, merge write disposition, ``dlt[postgres]`` installed
  by this benchmark into a venv of its own under the cache dir (the project does not depend
  on dlt);
* ``altus sync`` as a user runs it (a cold subprocess), then again with nothing changed,
  and once against an empty account: the command's fixed overhead (start-up, migrations
  with nothing to apply, run planning, Dagster's bookkeeping) with no data to load. Then,
  against the empty account, one transaction entity for one day and for every partition:
  the overhead of any ``altus`` run, and what the number of partitions adds to it.

Printed per loader (medians over the repetitions): records/s, wall, requests, peak RSS of
the loader's process tree, and CPU per 100k records of the loader, the PostgreSQL server
(including a ``VACUUM (ANALYZE)`` of the tables each loader changed: the clean-up its writes
left, which autovacuum would otherwise do while the next loader runs) and the sandbox; for
the two runs of one entity, the time from launch to the run's first step (start-up,
migrations and run planning, read from the run's events in Dagster's storage). Figures are
printed, never asserted. The machine's load average is printed with them: on a shared
machine the figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "altus-benchmarks"
TOKEN = "peers-token"
PAGE_SIZE = 1000
DLT_REQUIREMENT = "dlt[postgres]>=1.5,<2"
DAILY_QUIET = "altus sync --from D-6 --to D (the daily run), nothing changed"
DAILY_CHANGED = "altus sync --from D-6 --to D, 10 records of each master entity edited"
CHANGED_RECORDS = 10  # as DAILY_CHANGED says
ONE_DAY = "altus sync, empty account, one entity and day"
EVERY_DAY = "altus sync, empty account, one entity, every partition"

FLOOR = '''
"""The floor: one requests session, every page of every listing, one COPY of raw JSON per entity."""
import json, sys
import psycopg, requests

base_url, token, db_url, schema, listings = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
session = requests.Session()
session.headers["Authorization"] = f"bearer {token}"
with psycopg.connect(db_url, autocommit=True) as conn:
    conn.execute(f'CREATE SCHEMA "{schema}"')
    for name, path, params in listings:
        conn.execute(f'CREATE TABLE "{schema}"."{name}" (id text PRIMARY KEY, payload jsonb NOT NULL)')
        with conn.cursor().copy(f'COPY "{schema}"."{name}" (id, payload) FROM STDIN') as copy:
            page = 1
            while True:
                body = session.get(base_url + path, params={**params, "page_size": 1000, "page_number": page}).json()
                for record in body["data"]:
                    copy.write_row((record["id"], json.dumps(record)))
                if len(body["data"]) < 1000:
                    break
                page += 1
'''

DLT = '''
"""A dlt rest_api pipeline: every listing, merged on id into PostgreSQL."""
import json, sys
import dlt
from dlt.sources.rest_api import rest_api_source

base_url, token, dataset, listings = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
source = rest_api_source({
    "client": {
        "base_url": base_url + "/",
        "auth": {"type": "bearer", "token": token},
        "paginator": {"type": "page_number", "base_page": 1, "page_param": "page_number",
                      "total_path": None, "stop_after_empty_page": True},
    },
    "resource_defaults": {"primary_key": "id", "write_disposition": "merge",
                          "endpoint": {"data_selector": "data", "params": {"page_size": 1000}}},
    "resources": [{"name": name, "endpoint": {"path": path.lstrip("/"), "params": params}}
                  for name, path, params in listings],
})
pipeline = dlt.pipeline(pipeline_name=dataset, destination="postgres", dataset_name=dataset)
pipeline.run(source)
'''

SANDBOX = '''
"""The sandbox on a port. On stdin, ``count`` answers with the requests served since the last
count and how many of them were of master data; ``change N`` edits the first N records of
every master entity, as a user editing them in DoorLoop would (each stamped anew)."""
import sys
from pathlib import Path
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.sandbox.server import Sandbox, SandboxConfig

data, port, token = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
server = Sandbox.from_directory(data, SandboxConfig(token=token, rate_limit_per_minute=None, rate_limit_per_hour=None))
server.start("127.0.0.1", port)
master = [e for e in ENTITIES.values() if not e.partitioned]
paths = {"/api" + e.path for e in master}
print("ready", flush=True)
for line in sys.stdin:
    if line.startswith("change"):
        for entity in master:
            server.mutate(entity.name, upsert=server.records(entity.name)[: int(line.split()[1])])
        print("changed", flush=True)
        continue
    served = list(server.requests)
    server.reset_requests()
    print(len(served), sum(r.path in paths for r in served), flush=True)
'''


@dataclass
class Figures:
    """One loader's run: what it cost, whole process tree, PostgreSQL and sandbox included."""

    wall: float
    requests: int
    master_requests: int
    peak_rss_mb: float
    loader_cpu: float
    postgres_cpu: float
    server_cpu: float
    rows: int

    @property
    def cpu(self) -> float:
        return self.loader_cpu + self.postgres_cpu + self.server_cpu


class Sandbox:
    """The sandbox process serving one data folder, with its request counter."""

    def __init__(self, data: Path) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SANDBOX, str(data), str(self.port), TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"the sandbox serving {data} did not start")
        self.psutil = psutil.Process(self.process.pid)
        self.base_url = f"http://127.0.0.1:{self.port}/api"

    def served(self) -> tuple[int, int]:
        """Requests answered since the last call, and how many of them were of master data."""
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        served, master = self.process.stdout.readline().split()
        return int(served), int(master)

    def change(self, records: int) -> None:
        """Edit the first ``records`` records of every master entity (each stamped as edited now)."""
        self.process.stdin.write(f"change {records}\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "changed":
            raise SystemExit("the sandbox did not apply the change")

    def cpu(self) -> float:
        times = self.psutil.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.terminate()
        self.process.wait()


class Postgres:
    """A PostgreSQL server of the benchmark's own, so the CPU of its process tree is the loaders'."""

    def __init__(self, data_dir: Path) -> None:
        import psycopg

        from altus_pipeline.warehouse.embedded import create_database, ensure_server

        self.data_dir = data_dir
        server = ensure_server(data_dir)
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS peers WITH (FORCE)")  # every benchmark starts cold
        self.url = create_database(server, "peers")
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        self.postmaster = psutil.Process(postmaster)

    def cpu(self) -> float:
        return server_cpu(self.postmaster)

    def settle(self) -> None:
        """VACUUM (ANALYZE) the tables the last loader changed, so the clean-up its writes need is
        charged to it, not (through autovacuum) to whichever loader runs next. Only those: the
        tables of earlier loaders are left alone, as autovacuum would leave them."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as conn:
            changed = conn.execute(
                "SELECT schemaname, relname FROM pg_stat_user_tables WHERE n_mod_since_analyze > 0 OR n_dead_tup > 0"
            ).fetchall()
            for schema, table in changed:
                conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema, table)))

    def stop(self) -> None:
        from altus_pipeline.warehouse.embedded import stop_server

        stop_server(self.data_dir)

    def dlt_url(self) -> str:
        """The URL with the host and password dlt insists on (``host=`` wins; trust ignores the password)."""
        return self.url.replace("postgres:@/", "postgres:unused@localhost/")

    def scalar(self, query: str) -> int:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(query).fetchone()[0] or 0


def server_cpu(postmaster: psutil.Process) -> float:
    """CPU of a PostgreSQL server so far: its live processes and every backend that has exited."""
    times = postmaster.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in postmaster.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue  # exited between listing and reading: counted in children_* next time
        total += times.user + times.system
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(
    label: str, command: list[str], env: dict[str, str], sandbox: Sandbox, postgres: Postgres, rows_query: str
) -> Figures:
    """Run ``command`` to its end; its wall, requests, tree peak RSS and the CPU it caused."""
    sandbox.served()
    server_before, pg_before = sandbox.cpu(), postgres.cpu()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    peak, watched = 0, psutil.Process(process.pid)
    while process.poll() is None:
        try:
            peak = max(peak, _tree_rss(watched))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    wall = time.monotonic() - began
    reader.join()
    if process.returncode != 0:
        raise SystemExit(f"{label} failed ({process.returncode}):\n{''.join(output)[-3000:]}")
    postgres.settle()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    loader_cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    requests, master_requests = sandbox.served()
    return Figures(
        wall=wall,
        requests=requests,
        master_requests=master_requests,
        peak_rss_mb=peak / 2**20,
        loader_cpu=loader_cpu,
        postgres_cpu=postgres.cpu() - pg_before,
        server_cpu=sandbox.cpu() - server_before,
        rows=postgres.scalar(rows_query),
    )


def export(scale: str) -> tuple[Path, Path, int]:
    """The exported dataset of ``scale`` (made once, cached), an empty one beside it, and its record count.

    The cache is keyed by the generator's source, so an export made by an earlier generator is
    replaced rather than measured as if it were today's data.
    """
    generator = hashlib.sha256((REPO / "altus_pipeline" / "sandbox" / "generator.py").read_bytes()).hexdigest()
    folder = CACHE / f"export-{scale}-{generator[:12]}"
    if not (folder / ".complete").exists():
        for stale in CACHE.glob(f"export-{scale}*"):
            shutil.rmtree(stale, ignore_errors=True)
        subprocess.run(
            [str(Path(sys.executable).with_name("altus")), "sandbox", "export", "--scale", scale, str(folder)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (folder / ".complete").touch()
    empty = CACHE / "export-empty"
    empty.mkdir(parents=True, exist_ok=True)
    records = 0
    for file in folder.glob("*.json"):
        (empty / file.name).write_text("[]")
        records += len(json.loads(file.read_text()))
    return folder, empty, records


def dlt_python() -> Path:
    """The python of a venv holding ``dlt[postgres]``, created and filled on first use."""
    venv = CACHE / "dlt-venv"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", DLT_REQUIREMENT], check=True)
        (venv / ".complete").touch()
    return python


def _listings() -> str:
    from altus_pipeline.doorloop.registry import ENTITIES

    return json.dumps([[e.name, e.path, dict(e.list_params)] for e in ENTITIES.values()])


def _altus_rows_query(schema: str) -> str:
    from altus_pipeline.doorloop.registry import ENTITIES

    counts = " + ".join(
        f'(SELECT count(*) FROM "{schema}"."{e.raw_table}" WHERE deleted_at IS NULL)' for e in ENTITIES.values()
    )
    return f"SELECT {counts}"


def _schema_rows_query(schema: str) -> str:
    """Rows of the top-level tables of ``schema`` (the floor's; dlt's without its ``_dlt`` and child tables),
    from the statistics: a check that each loader loaded everything, not an exact count."""
    return (
        f"SELECT sum(n_live_tup)::bigint FROM pg_stat_user_tables WHERE schemaname = '{schema}'"
        f" AND relname NOT LIKE '\\_dlt%' AND relname NOT LIKE '%\\_\\_%'"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["floor", "dlt", "altus"],
        help="Leave a loader out (repeatable).",
    )
    args = parser.parse_args()

    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES

    data, empty, records = export(args.scale)
    python_dlt = None if "dlt" in args.skip else dlt_python()
    first_day = DEFAULT_AS_OF.replace(year=DEFAULT_AS_OF.year - SCALES[args.scale].years, day=1)
    listings = _listings()
    postgres = Postgres(CACHE / "pgdata")
    sandbox, no_data = Sandbox(data), Sandbox(empty)
    altus = str(Path(sys.executable).with_name("altus"))
    results: dict[str, list[Figures]] = {}
    to_first_step: dict[str, list[float]] = {}
    loads: list[str] = []
    try:
        print(
            f"{args.scale}: {records:,d} records; {args.repetitions} interleaved repetitions; "
            f"load average before {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        for rep in range(args.repetitions):
            with tempfile.TemporaryDirectory() as home:
                base = {**os.environ, "PYTHONUNBUFFERED": "1"}
                runs: list[tuple[str, list[str], dict[str, str], Sandbox, str]] = []
                if "floor" not in args.skip:
                    schema = f"floor_{rep}"
                    runs.append(
                        (
                            "floor",
                            [sys.executable, "-c", FLOOR, sandbox.base_url, TOKEN, postgres.url, schema, listings],
                            base,
                            sandbox,
                            _schema_rows_query(schema),
                        )
                    )
                if python_dlt is not None:
                    dataset = f"dlt_{rep}_{int(time.time())}"
                    env = {
                        **base,
                        "DESTINATION__POSTGRES__CREDENTIALS": postgres.dlt_url(),
                        "DLT_DATA_DIR": str(Path(home) / "dlt"),
                        "RUNTIME__LOG_LEVEL": "WARNING",
                    }
                    runs.append(
                        (
                            "dlt rest_api, merge",
                            [str(python_dlt), "-c", DLT, sandbox.base_url, TOKEN, dataset, listings],
                            env,
                            sandbox,
                            _schema_rows_query(dataset),
                        )
                    )
                if "altus" not in args.skip:
                    runs += _altus_runs(altus, base, home, rep, postgres, sandbox, no_data, first_day, DEFAULT_AS_OF)
                for label, command, env, server, rows_query in runs:
                    if label == DAILY_CHANGED:
                        server.change(CHANGED_RECORDS)
                    launched = time.time()
                    figures = measure(label, command, env, server, postgres, rows_query)
                    results.setdefault(label, []).append(figures)
                    if label in (ONE_DAY, EVERY_DAY):
                        to_first_step.setdefault(label, []).append(_to_first_step(postgres, rep, launched))
                    loads.append(f"{os.getloadavg()[0]:.1f}")
                    print(
                        f"  rep {rep + 1} {label:55s} {figures.wall:7.1f}s  {figures.requests:5d} requests"
                        f"  {figures.peak_rss_mb:6.0f} MB  rows {figures.rows:,d}",
                        flush=True,
                    )
    finally:
        sandbox.stop()
        no_data.stop()
        postgres.stop()
    _print_table(args.scale, records, results, loads)
    for label, seconds in to_first_step.items():
        print(f"{label}: launch to first step {statistics.median(seconds):.1f} s")


def _altus_runs(
    altus: str,
    base: dict[str, str],
    home: str,
    rep: int,
    postgres: Postgres,
    sandbox: Sandbox,
    no_data: Sandbox,
    first: dt.date,
    last: dt.date,
) -> list:
    """``altus sync`` cold, again with nothing changed, as the daily run does (the last week
    of the data, master data newest-changed first) with nothing changed and after a few
    edits, and against the empty account.

    The empty account's warehouse schema is migrated beforehand and it shares the Dagster
    storage of the others, so its run is the fixed overhead of any later ``altus`` run:
    start-up, migrations with nothing to apply, run planning and Dagster's bookkeeping.
    """
    from altus_pipeline.doorloop.registry import ENTITIES
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    migrate(Warehouse(postgres.url, f"altus_empty_{rep}"))
    storage = Warehouse(postgres.url, f"altus_{rep}").dagster_storage_url(_storage_schema(rep))
    entity = next(e.name for e in ENTITIES.values() if e.partitioned)
    first_day = first.isoformat()
    week = ["--from", (last - dt.timedelta(days=6)).isoformat(), "--to", last.isoformat()]
    runs = []
    for label, server, schema, args in (
        ("altus sync (full, cold)", sandbox, f"altus_{rep}", []),
        ("altus sync, nothing changed", sandbox, f"altus_{rep}", []),
        (DAILY_QUIET, sandbox, f"altus_{rep}", week),
        (DAILY_CHANGED, sandbox, f"altus_{rep}", week),
        ("altus sync, empty account", no_data, f"altus_empty_{rep}", []),
        (ONE_DAY, no_data, f"altus_empty_{rep}", ["--entity", entity, "--from", first_day, "--to", first_day]),
        (EVERY_DAY, no_data, f"altus_empty_{rep}", ["--entity", entity]),
    ):
        env = {
            **base,
            "ALTUS_DATABASE_URL": postgres.url,
            "ALTUS_SCHEMA": schema,
            "ALTUS_HOME": home,
            "DAGSTER_HOME": str(Path(home) / "dagster"),
            "ALTUS_DAGSTER_STORAGE_URL": storage,
            "DOORLOOP_BASE_URL": server.base_url,
            "DOORLOOP_API_TOKEN": TOKEN,
            "DOORLOOP_RATE_LIMIT_PER_MINUTE": "off",
            "DOORLOOP_RATE_LIMIT_PER_HOUR": "off",
            "ALTUS_PARTITION_START": first_day,
        }
        runs.append((label, [altus, "sync", *args], env, server, _altus_rows_query(schema)))
    return runs


def _storage_schema(rep: int) -> str:
    """The schema of the Dagster storage the ``altus`` runs of repetition ``rep`` share."""
    return f"altus_{rep}_dagster"


def _to_first_step(postgres: Postgres, rep: int, launched: float) -> float:
    """Seconds from ``launched`` (epoch) to the first step of the newest run in ``rep``'s Dagster
    storage: for a command of one run, its start-up, its migrations and the planning of the run."""
    schema = _storage_schema(rep)
    started = postgres.scalar(
        f'SELECT extract(epoch FROM min(e.timestamp)) FROM "{schema}".event_logs e '
        f"WHERE e.dagster_event_type = 'STEP_START' AND e.run_id = "
        f'(SELECT run_id FROM "{schema}".runs ORDER BY create_timestamp DESC LIMIT 1)'
    )
    return float(started) - launched


def _print_table(scale: str, records: int, results: dict[str, list[Figures]], loads: list[str]) -> None:
    def median(label: str, value) -> float:
        return statistics.median(value(f) for f in results[label])

    print(
        f"\n{scale}: {records:,d} records, medians of {max(len(v) for v in results.values())} "
        f"(load average during the runs: {', '.join(loads)})"
    )
    print(
        "| loader | records/s | wall | requests | peak RSS | CPU per 100k records: all (loader + PostgreSQL + server) |"
    )
    print("|---|---|---|---|---|---|")
    for label in results:
        wall = median(label, lambda f: f.wall)
        per = 100_000 / records
        rate = f"{records / wall:,.0f}" if "empty" not in label and label not in (DAILY_QUIET, DAILY_CHANGED) else "-"
        print(
            f"| {label} | {rate} | {wall:.1f} s | {median(label, lambda f: f.requests):.0f} "
            f"| {median(label, lambda f: f.peak_rss_mb):.0f} MB "
            f"| {median(label, lambda f: f.cpu) * per:.1f} s ({median(label, lambda f: f.loader_cpu) * per:.1f}"
            f" + {median(label, lambda f: f.postgres_cpu) * per:.1f}"
            f" + {median(label, lambda f: f.server_cpu) * per:.1f}) |"
        )
    cold = "altus sync (full, cold)"
    for peer in ("dlt rest_api, merge", "floor"):
        if cold in results and peer in results:
            ratio = median(peer, lambda f: f.wall) / median(cold, lambda f: f.wall)
            pg = median(cold, lambda f: f.postgres_cpu) / max(median(peer, lambda f: f.postgres_cpu), 1e-9)
            print(f"altus/{peer.split()[0]}: records/s x{ratio:.2f}; PostgreSQL CPU x{pg:.2f}")
    _print_postgres_cpu(records, results, median)
    _print_master_requests(results, median)
    if "altus sync, empty account" in results:
        overhead = median("altus sync, empty account", lambda f: f.wall)
        print(f"fixed overhead of `altus sync` (empty account): {overhead:.1f} s")


def _print_master_requests(
    results: dict[str, list[Figures]], median: Callable[[str, Callable[[Figures], float]], float]
) -> None:
    """What master data costs of DoorLoop's 500 requests an hour: a full snapshot against the daily run."""
    from altus_pipeline.doorloop.registry import ENTITIES

    cold = "altus sync (full, cold)"
    if cold not in results or DAILY_QUIET not in results:
        return
    entities = sum(not e.partitioned for e in ENTITIES.values())
    snapshot = median(cold, lambda f: f.master_requests)
    quiet = median(DAILY_QUIET, lambda f: f.master_requests)
    changed = median(DAILY_CHANGED, lambda f: f.master_requests)
    print(
        f"master data requests ({entities} entities): a full snapshot {snapshot:.0f}; the daily run with nothing"
        f" changed {quiet:.0f} ({quiet / entities:.2f} per entity), with {CHANGED_RECORDS} records of each edited"
        f" {changed:.0f} ({changed / snapshot:.0%} of the snapshot's)"
    )


def _print_postgres_cpu(
    records: int, results: dict[str, list[Figures]], median: Callable[[str, Callable[[Figures], float]], float]
) -> None:
    """PostgreSQL CPU per 100k records of the cold and the no-change sync, whole and less the empty
    account's (start-up, migrations, Dagster's bookkeeping: the same whatever the data), which
    leaves the raw load's own against the floor's."""
    cold, again, empty = "altus sync (full, cold)", "altus sync, nothing changed", "altus sync, empty account"
    if cold not in results or again not in results:
        return

    def pg(label: str) -> float:
        return median(label, lambda f: f.postgres_cpu) * 100_000 / records

    line = f"PostgreSQL CPU per 100k records: cold {pg(cold):.2f} s, nothing changed {pg(again):.2f} s"
    if empty in results:
        load, unchanged = pg(cold) - pg(empty), pg(again) - pg(empty)
        line += f"; less the empty account's {pg(empty):.2f} s: cold {load:.2f} s, nothing changed {unchanged:.2f} s"
        if "floor" in results:
            line += f" (floor {pg('floor'):.2f} s: cold x{load / max(pg('floor'), 1e-9):.2f})"
    print(line)


if __name__ == "__main__":
    main()
