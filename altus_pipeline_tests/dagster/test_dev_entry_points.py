"""The pipeline as users run it: `altus dev` (webserver + daemon), driven over GraphQL.

Runs launched from the UI, a backfill planned by the daemon, a schedule tick and a DLQ
sensor tick must all land in the one warehouse the CLI reads, with no second data folder
anywhere; and every process finds that warehouse whatever its current directory.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from altus_pipeline.warehouse import embedded
from altus_pipeline_tests.conftest import REPO, TOKEN
from altus_pipeline_tests.dagster.test_ui import _free_port, stop
from altus_pipeline_tests.support.dagster_gql import LOCATION, Dev, location_loaded

ALTUS = str(Path(sys.executable).with_name("altus"))
CHARGE_DAYS = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(7)]
KPI_DAYS = [dt.date(2026, 10, 25) + dt.timedelta(days=i) for i in range(7)]
BAD_OWNER_COMPANY = "maybe"  # `company` must be a boolean: the owner is rejected by normalize

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  ... on PartitionSetNotFoundError { message } ... on InvalidSubsetError { message } } }
"""
BACKFILL = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status runs(limit: 10) { runId status tags { key value } } } } }
"""
RUNS = """
query($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) {
  ... on Runs { results { runId status tags { key value } } } } }
"""
START_SCHEDULE = """
mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) {
  __typename ... on ScheduleStateResult { scheduleState { id selectorId status } } ... on PythonError { message } } }
"""
STOP_SCHEDULE = """
mutation($id: String!) { stopRunningSchedule(id: $id) {
  __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }
"""
START_SENSOR = """
mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
  __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }
"""


@pytest.fixture
def account(sandbox_factory, small_dataset):
    """The small account with one owner the normalized layer must reject."""
    owner = next(o for o in small_dataset["owners"] if isinstance(o, dict))
    owner["company"] = BAD_OWNER_COMPANY
    return sandbox_factory(small_dataset), owner


@pytest.fixture
def env(tmp_path, account) -> dict[str, str]:
    server, _ = account
    # Relative, as a user may write it: it means the same folder to every process, whatever its cwd.
    home = os.path.relpath(tmp_path / "home", REPO)
    values = {
        **os.environ,
        "ALTUS_HOME": home,
        "DOORLOOP_BASE_URL": server.base_url,
        "DOORLOOP_API_TOKEN": TOKEN,
        "DOORLOOP_RATE_LIMIT_PER_MINUTE": "off",
        "DOORLOOP_RATE_LIMIT_PER_HOUR": "off",
        "ALTUS_DAILY_CRON": "* * * * *",
        "ALTUS_DLQ_SENSOR_INTERVAL_SECONDS": "5",
        "ALTUS_DLQ_BACKOFF_BASE_SECONDS": "0",
    }
    for name in ("ALTUS_DATABASE_URL", "DAGSTER_HOME", "ALTUS_DAGSTER_STORAGE_URL"):
        values.pop(name, None)
    yield values
    embedded.stop_server(tmp_path / "home" / "pgdata")


def _altus(env: dict[str, str], *args: str, cwd: Path) -> str:
    done = subprocess.run([ALTUS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def test_ui_backfills_schedules_and_sensors_write_the_clis_warehouse(tmp_path, env, account):
    server, bad_owner = account
    elsewhere = tmp_path / "elsewhere"  # every process starts outside the project and its home
    elsewhere.mkdir()
    dev = Dev.altus_dev(ALTUS, _free_port(), elsewhere, env, tmp_path / "dev.log")
    proc = dev.proc
    try:
        dev.wait("the code location", lambda: location_loaded(dev), 240)
        url = _altus(env, "db", "url", cwd=elsewhere).strip()

        def rows(query: str, *params: Any) -> list[tuple]:
            with psycopg.connect(url) as conn:
                conn.execute("SET search_path TO altus")
                return conn.execute(query, params).fetchall()

        # (a) Materialize one master-data asset, as the asset page's button does.
        run_id = dev.materialize("doorloop_raw_properties")["runId"]
        dev.wait_for_run(run_id)
        expected = {p["id"] for p in server.records("properties")}
        assert {r[0] for r in rows("SELECT id FROM doorloop_raw_properties WHERE deleted_at IS NULL")} == expected
        assert rows("SELECT asset_key FROM doorloop_pipeline_audit WHERE run_id = %s", run_id) == [
            ("doorloop_raw_properties",)
        ]

        # (b) A 7-day backfill of one partitioned entity: the daemon plans it as one ranged run.
        charges_backfill = _launch_backfill(dev, "doorloop_raw_lease_charges", CHARGE_DAYS)
        runs = _backfill_runs(dev, charges_backfill)
        assert len(runs) == 1 and _tag(runs[0], "dagster/asset_partition_range_start") == "2026-10-01"
        in_range = {
            c["id"]
            for c in server.records("lease_charges")
            if CHARGE_DAYS[0].isoformat() <= str(c["date"])[:10] <= CHARGE_DAYS[-1].isoformat()
        }
        assert in_range and {r[0] for r in rows("SELECT id FROM doorloop_raw_lease_charges")} == in_range
        assert rows("SELECT count(*) FROM doorloop_pipeline_audit WHERE run_id = %s", runs[0]["runId"]) == [(1,)]

        # A schedule tick (every minute here): master data, the daily window, normalized, KPIs, views.
        schedule = {**LOCATION, "scheduleName": "daily_sync_schedule"}
        started = dev.gql(START_SCHEDULE, s=schedule)["startSchedule"]
        assert started["__typename"] == "ScheduleStateResult", started
        dev.wait("a daily schedule run", lambda: _runs_tagged(dev, "dagster/schedule_name", "daily_sync_schedule"), 150)
        selector_id = started["scheduleState"]["selectorId"]
        dev.wait("the scheduler's iteration to end", lambda: _schedule_checkpointed(url, selector_id), 120)
        stopped = dev.gql(STOP_SCHEDULE, id=started["scheduleState"]["id"])["stopRunningSchedule"]
        assert stopped.get("scheduleState", {}).get("status") == "STOPPED", stopped  # no later tick heals the DLQ
        # Every schedule run must be over before the owner is fixed upstream, so that only the
        # DLQ sensor can resolve it.
        _wait_for_schedule_runs(dev)
        _backfill_completed(dev, charges_backfill, runs)
        owners = {o["id"] for o in server.records("owners")}
        assert {r[0] for r in rows("SELECT doorloop_id FROM normalized_owners")} == owners - {bad_owner["id"]}
        assert rows("SELECT count(*) FROM get_full_properties") == [(len(expected),)]

        # (c) A KPI range from the UI: one run for the seven as-of dates.
        kpi_backfill = _launch_backfill(dev, "kpi_daily_snapshot", KPI_DAYS)
        (kpi_run,) = _backfill_runs(dev, kpi_backfill)
        assert rows(
            "SELECT asset_key, partition_key FROM doorloop_pipeline_audit WHERE run_id = %s", kpi_run["runId"]
        ) == [("kpi_daily_snapshot", f"{KPI_DAYS[0]}...{KPI_DAYS[-1]}")]
        dates = rows(
            "SELECT DISTINCT as_of_date FROM kpi_daily_snapshot WHERE as_of_date BETWEEN %s AND %s ORDER BY 1",
            KPI_DAYS[0],
            KPI_DAYS[-1],
        )
        assert [d for (d,) in dates] == KPI_DAYS

        assert _schedule_status(url, selector_id) == "STOPPED"  # the stop held: no tick since
        _wait_for_schedule_runs(dev)

        # The DLQ as the CLI shows it; fixed upstream, retried by the daemon's sensor.
        listed = _altus(env, "dlq", "list", "--entity", "owners", cwd=elsewhere)
        assert bad_owner["id"] in listed and "company" in listed, listed
        (record_id,) = rows("SELECT id FROM doorloop_error_records WHERE doorloop_id = %s", bad_owner["id"])[0]
        server.mutate("owners", upsert=[{**bad_owner, "company": False}])
        _altus(env, "dlq", "retry", "--id", str(record_id), cwd=elsewhere)
        started = dev.gql(START_SENSOR, s={**LOCATION, "sensorName": "dlq_retry_sensor"})["startSensor"]
        assert started["__typename"] == "Sensor", started
        dev.wait(
            "the DLQ record resolved",
            lambda: rows("SELECT status FROM doorloop_error_records WHERE id = %s", record_id) == [("resolved",)],
            180,
        )
        assert {r[0] for r in rows("SELECT doorloop_id FROM normalized_owners")} == owners
        assert "resolved" in _altus(env, "dlq", "list", "--entity", "owners", cwd=elsewhere)
        retries = _runs_tagged(dev, "altus/dlq_retry", "true")
        everything = dev.gql(RUNS, tags=[])["runsOrError"]["results"]
        (resolver,) = rows("SELECT run_id FROM doorloop_error_records WHERE id = %s", record_id)[0]
        assert resolver in {r["runId"] for r in retries}, (resolver, everything, dev.tail())
        assert all(r["status"] in ("SUCCESS", "STARTED", "QUEUED", "STARTING") for r in retries), retries
        _backfill_completed(dev, kpi_backfill, [kpi_run])
    finally:
        stop(proc)

    # One warehouse: the only database folder is the home's; nothing grew under DAGSTER_HOME or the cwd.
    data_dirs = {p.parent for p in tmp_path.rglob("PG_VERSION") if p.parent.name == "pgdata"}
    assert data_dirs == {tmp_path / "home" / "pgdata"}
    assert not (elsewhere / ".altus").exists() and not (tmp_path / "home" / "dagster" / ".altus").exists()
    assert not list(elsewhere.glob(".tmp_dagster_home_*"))


def _schedule_state(url: str, selector_id: str):
    """The schedule's stored ``InstigatorState`` (None before it was first started)."""
    from dagster._core.scheduler.instigation import InstigatorState
    from dagster._serdes import deserialize_value

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT instigator_body FROM dagster.instigators WHERE selector_id = %s", (selector_id,)
        ).fetchone()
    return deserialize_value(row[0], InstigatorState) if row else None


def _schedule_status(url: str, selector_id: str) -> str:
    return _schedule_state(url, selector_id).status.value


def _schedule_checkpointed(url: str, selector_id: str) -> bool:
    """Whether the scheduler daemon has recorded an iteration of the started schedule.

    The daemon's first iteration of a started schedule ends by writing back the RUNNING state
    it read when it began, after launching the tick's run: a stop that lands in between is
    overwritten, and the schedule goes on ticking every minute. Once that iteration is
    recorded (``last_iteration_timestamp``) the daemon leaves the state alone for an hour, so
    a stop sent then holds and no later tick can heal the DLQ.
    """
    state = _schedule_state(url, selector_id)
    return state is not None and state.instigator_data.last_iteration_timestamp is not None


def _wait_for_schedule_runs(dev: Dev) -> None:
    """Wait until every run the daily schedule launched so far has succeeded."""
    finished: set[str] = set()
    while (
        launched := {r["runId"] for r in _runs_tagged(dev, "dagster/schedule_name", "daily_sync_schedule")} - finished
    ):
        for run_id in launched:
            dev.wait_for_run(run_id, timeout=600)
        finished |= launched


def _runs_tagged(dev: Dev, key: str, value: str) -> list[dict]:
    return dev.gql(RUNS, tags=[{"key": key, "value": value}])["runsOrError"]["results"]


def _launch_backfill(dev: Dev, asset_key: str, days: list[dt.date]) -> str:
    """Launch a backfill of ``days`` of one asset, as the UI's *Launch backfill* does; its id."""
    launched = dev.gql(
        LAUNCH_BACKFILL,
        params={"assetSelection": [{"path": [asset_key]}], "partitionNames": [d.isoformat() for d in days]},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def _backfill_runs(dev: Dev, backfill_id: str) -> list[dict]:
    """Wait for the runs the daemon submitted for a backfill to end; each checked successful.

    The daemon marks the backfill itself complete on its next iteration, up to 30 s after its
    last run ends: ``_backfill_completed`` checks that later, so the wait overlaps the next steps.
    """

    def ended() -> list[dict] | None:
        runs = _runs_tagged(dev, "dagster/backfill", backfill_id)
        return runs if runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs) else None

    runs = dev.wait(f"the runs of backfill {backfill_id}", ended, 240)
    assert all(r["status"] == "SUCCESS" for r in runs), (runs, dev.tail())
    return runs


def _backfill_completed(dev: Dev, backfill_id: str, runs: list[dict]) -> None:
    """Wait for the daemon to mark a backfill complete; it submitted no run besides ``runs``."""

    def done() -> dict | None:
        backfill = dev.gql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        return (
            backfill
            if backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")
            else None
        )

    backfill = dev.wait(f"backfill {backfill_id}", done, 240)
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (backfill, dev.tail())
    later = _runs_tagged(dev, "dagster/backfill", backfill_id)
    assert {r["runId"] for r in later} == {r["runId"] for r in runs}, (later, runs)


def test_every_process_finds_the_same_home_from_any_folder(tmp_path):
    """Without ALTUS_HOME the home is the project's, whatever the current directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("ALTUS_HOME", "DAGSTER_HOME")}
    probe = "from altus_pipeline import settings; print(settings.project_home())"
    homes = {
        subprocess.run(
            [sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for cwd in (REPO, tmp_path, REPO / "altus_pipeline")
    }
    assert homes == {str(REPO / ".altus")}


def test_a_process_refuses_to_start_a_second_embedded_warehouse(tmp_path):
    """An instance pinned to one home refuses a process that would start PostgreSQL in another."""
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    from altus_pipeline.instance import instance_yaml

    (dagster_home / "dagster.yaml").write_text(instance_yaml(tmp_path / "real"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("ALTUS_DATABASE_URL", "ALTUS_DAGSTER_STORAGE_URL")},
        "DAGSTER_HOME": str(dagster_home),
        "ALTUS_HOME": str(tmp_path / "other"),
    }
    done = subprocess.run([ALTUS, "db", "url"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert str(tmp_path / "real") in done.stderr and str(tmp_path / "other") in done.stderr, done.stderr
    # a webserver or daemon loading that instance refuses the same way
    dagster = str(Path(sys.executable).with_name("dagster"))
    done = subprocess.run(
        [dagster, "instance", "info"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert str(tmp_path / "real") in done.stderr and str(tmp_path / "other") in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "other").exists() and not (tmp_path / "real").exists()


SAME_INSTANCE = """
import sys, dagster as dg
from altus_pipeline.instance import dagster_instance
from altus_pipeline.warehouse.db import Warehouse
run = dagster_instance(Warehouse.from_env()).get_run_by_id(sys.argv[1])
print(run.status.value if run else "missing")
"""


@pytest.mark.parametrize("started", ["dagster dev from the project", "webserver and daemon by hand"])
def test_hand_started_dagster_writes_the_clis_warehouse(tmp_path, env, account, started):
    """Plain Dagster commands, with only the documented environment, use the CLI's warehouse and instance."""
    server, _ = account
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    workspace = str(REPO / "workspace.yaml")
    env = {**env, "ALTUS_HOME": str(tmp_path / "home")}
    if started == "dagster dev from the project":
        commands, cwd = [[str(bin_dir / "dagster"), "dev", "-w", workspace, "-p", str(port)]], REPO
    else:
        _altus(env, "db", "migrate", cwd=tmp_path)  # writes DAGSTER_HOME's dagster.yaml, as the README says
        env["DAGSTER_HOME"] = str(tmp_path / "home" / "dagster")
        commands = [
            [str(bin_dir / "dagster-webserver"), "-w", workspace, "-p", str(port)],
            [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
        ]
        cwd = tmp_path
    log = tmp_path / "dagster.log"
    with open(log, "w") as out:
        procs = [
            subprocess.Popen(c, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            for c in commands
        ]
    dev = Dev(port, procs[0], log)
    try:
        dev.wait("the code location", lambda: location_loaded(dev), 240)
        run_id = dev.materialize("doorloop_raw_owners")["runId"]
        dev.wait_for_run(run_id)
    finally:
        for proc in procs:
            stop(proc)
    url = _altus(env, "db", "url", cwd=tmp_path).strip()
    with psycopg.connect(url) as conn:
        conn.execute("SET search_path TO altus")
        live = {r[0] for r in conn.execute("SELECT id FROM doorloop_raw_owners WHERE deleted_at IS NULL")}
    assert live == {o["id"] for o in server.records("owners")}
    cli_env = {k: v for k, v in env.items() if k != "DAGSTER_HOME"}
    seen = subprocess.run(
        [sys.executable, "-c", SAME_INSTANCE, run_id],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seen.stdout.strip() == "SUCCESS", seen.stdout + seen.stderr
    data_dirs = {p.parent for p in tmp_path.rglob("PG_VERSION") if p.parent.name == "pgdata"}
    assert data_dirs == {tmp_path / "home" / "pgdata"}


def test_a_sigterm_to_altus_dev_ends_every_process_it_started(tmp_path, env):
    """As a script's background job (SIGINT ignored, which ``dagster dev`` also applies to
    SIGTERM), stopped by a SIGTERM to its own pid: nothing of its session outlives it."""
    dev = Dev.altus_dev(
        ALTUS,
        _free_port(),
        tmp_path,
        env,
        tmp_path / "dev.log",
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    proc = dev.proc
    try:
        dev.wait("the code location", lambda: location_loaded(dev), 240)
        session = [p for p in psutil.process_iter() if _session_of(p) == proc.pid]
        assert len(session) >= 3, "altus dev, dagster dev, the webserver and the daemon"
        os.kill(proc.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(session, timeout=60)
        assert not alive, f"still running after SIGTERM: {[p.cmdline()[:4] for p in alive]}\n{dev.tail()}"
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None or any(_session_of(p) == proc.pid for p in psutil.process_iter()):
            os.killpg(proc.pid, signal.SIGKILL)


def _session_of(process: psutil.Process) -> int | None:
    try:
        return os.getsid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None
