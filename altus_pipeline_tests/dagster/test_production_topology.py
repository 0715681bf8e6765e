"""The production topology, without Docker: the services of deploy/docker-compose.yml as processes.

A gRPC code server, a webserver and a daemon, started with the commands the compose file
gives them, on the instance it mounts (deploy/dagster.yaml) and the workspace it mounts
(deploy/workspace.yaml). A run launched through the webserver is queued, dequeued by the
daemon's QueuedRunCoordinator and executed by the default run launcher in a process the code
server starts; its rows land in the warehouse and its events in Dagster's storage.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from altus_pipeline_tests.conftest import REPO, TOKEN
from altus_pipeline_tests.dagster.test_ui import _free_port
from altus_pipeline_tests.support.dagster_gql import LOCATION, Dev, location_loaded

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
BIN = Path(sys.executable).parent
# Where the compose file's containers find what this test passes as real paths and ports.
CONTAINER_WORKSPACE = "/opt/dagster/workspace.yaml"
CODE_PORT, UI_PORT = "4000", "3000"
RESOURCE = """
query($r: ResourceSelector!) { topLevelResourceDetailsOrError(resourceSelector: $r) {
  __typename ... on ResourceDetails { configuredValues { key value type } } } }
"""


def compose_command(service: str, paths: dict[str, str], ports: dict[str, str]) -> list[str]:
    """The service's command from the compose file, with container paths, ports and the
    all-interfaces host made local."""
    command = yaml.safe_load(COMPOSE.read_text())["services"][service]["command"]
    local = {**paths, **ports, "0.0.0.0": "127.0.0.1"}
    executable, *args = (local.get(arg, arg) for arg in command)
    return [str(BIN / executable), *args]


def stop_all(procs: Iterable[subprocess.Popen]) -> None:
    """End every service and what it started, all at once (a code server drains for seconds)."""
    procs = list(procs)
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def dagster_home(tmp_path, warehouse, monkeypatch) -> Iterator[tuple[Path, str]]:
    """A DAGSTER_HOME holding deploy/dagster.yaml, its storage in a schema of its own (the
    ``warehouse`` fixture has applied sql/, as the compose file's `altus` service does).

    Dagster's tables are created here, once, before three processes would race to do it.
    """
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    schema = f"{warehouse.schema}_dagster"
    storage_url = warehouse.dagster_storage_url(schema)
    monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", storage_url)
    dg.DagsterInstance.from_config(str(home)).dispose()
    yield home, storage_url
    with psycopg.connect(warehouse.url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_a_run_goes_through_the_queue_the_daemon_and_the_code_server(
    tmp_path, warehouse, dagster_home, sandbox_factory, small_dataset
):
    from dagster._core.events import DagsterEventType

    home, storage_url = dagster_home
    server = sandbox_factory(small_dataset)
    code_port, ui_port = str(_free_port()), str(_free_port())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ALTUS_HOME": str(tmp_path / "altus"),
        "ALTUS_DATABASE_URL": warehouse.url,
        "ALTUS_SCHEMA": warehouse.schema,
        "ALTUS_DAGSTER_STORAGE_URL": storage_url,
        "ALTUS_CODE_SERVER_HOST": "127.0.0.1",
        "ALTUS_CODE_SERVER_PORT": code_port,
        "DOORLOOP_BASE_URL": server.base_url,
        "DOORLOOP_API_TOKEN": TOKEN,
        "DOORLOOP_RATE_LIMIT_PER_MINUTE": "off",
        "DOORLOOP_RATE_LIMIT_PER_HOUR": "off",
    }
    paths = {CONTAINER_WORKSPACE: str(DEPLOY / "workspace.yaml")}
    ports = {CODE_PORT: code_port, UI_PORT: ui_port}
    log = tmp_path / "services.log"
    with open(log, "w") as out:
        procs = {
            service: subprocess.Popen(
                compose_command(service, paths, ports),
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for service in ("code", "webserver", "daemon")
        }
    dev = Dev(int(ui_port), procs["webserver"], log, also=(procs["code"], procs["daemon"]))
    try:
        # All three at once: the webserver and the daemon load the location when the code server answers.
        dev.wait("the code location over gRPC", lambda: location_loaded(dev, wait_for_code_server=True), 120)
        # the UI names the variable that feeds the DoorLoop token, never its value
        doorloop = dev.gql(RESOURCE, r={**LOCATION, "resourceName": "doorloop"})["topLevelResourceDetailsOrError"]
        assert {"key": "token", "value": "DOORLOOP_API_TOKEN", "type": "ENV_VAR"} in doorloop["configuredValues"]
        assert TOKEN not in json.dumps(doorloop)
        run = dev.materialize("doorloop_raw_properties")
        run_id = run["runId"]
        assert run["status"] == "QUEUED"
        dev.wait_for_run(run_id, timeout=120)
        service_pids = {proc.pid for proc in procs.values()}
    finally:
        stop_all(procs.values())

    with warehouse.connect() as conn:
        live = {r[0] for r in conn.execute("SELECT id FROM doorloop_raw_properties WHERE deleted_at IS NULL")}
        audited = conn.execute("SELECT asset_key FROM doorloop_pipeline_audit WHERE run_id = %s", (run_id,)).fetchall()
    assert live == {p["id"] for p in server.records("properties")}
    assert audited == [("doorloop_raw_properties",)]

    schema = sql.Identifier(f"{warehouse.schema}_dagster")
    with psycopg.connect(warehouse.url) as conn:
        (status,) = conn.execute(
            sql.SQL("SELECT status FROM {}.runs WHERE run_id = %s").format(schema), (run_id,)
        ).fetchone()
        events = conn.execute(
            sql.SQL(
                "SELECT dagster_event_type, asset_key, event FROM {}.event_logs WHERE run_id = %s ORDER BY id"
            ).format(schema),
            (run_id,),
        ).fetchall()
        daemons = {r[0] for r in conn.execute(sql.SQL("SELECT daemon_type FROM {}.daemon_heartbeats").format(schema))}
    assert status == "SUCCESS"
    # Queued by the webserver, started by the daemon's run queue (nothing else dequeues), on this storage.
    assert "QUEUED_RUN_COORDINATOR" in daemons, daemons
    assert "QueuedRunCoordinatorDaemon - INFO - Launched 1 runs." in re.sub(r"\x1b\[[0-9;]*m", "", log.read_text())
    lifecycle = [
        DagsterEventType.RUN_ENQUEUED,
        DagsterEventType.RUN_STARTING,
        DagsterEventType.RUN_START,
        DagsterEventType.RUN_SUCCESS,
    ]
    kinds = [kind for kind, _, _ in events]
    assert [kind for kind in kinds if kind in {e.value for e in lifecycle}] == [e.value for e in lifecycle], kinds
    assert any(
        kind == DagsterEventType.ASSET_MATERIALIZATION.value and '"doorloop_raw_properties"' in (key or "")
        for kind, key, _ in events
    )
    # The steps ran in a process of their own, started for the run: none of the three services.
    step_pids = {
        json.loads(body)["dagster_event"]["pid"]
        for kind, _, body in events
        if kind == DagsterEventType.STEP_START.value
    }
    assert len(step_pids) == 1 and not step_pids & service_pids, (step_pids, service_pids)
