"""The Dagster UI: `altus dev` serves the code location, loaded without errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from altus_pipeline_tests.conftest import REPO

WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""
ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """End a server started in its own session, and everything it started."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _graphql(port: int, query: str) -> dict:
    response = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def test_altus_dev_serves_the_code_location_loaded(pg_url, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "ALTUS_HOME": str(tmp_path),
        "ALTUS_DATABASE_URL": pg_url,
        "ALTUS_SCHEMA": "ui_test",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    env.pop("DOORLOOP_API_TOKEN", None)
    altus = str(Path(sys.executable).with_name("altus"))
    log = open(tmp_path / "dev.log", "w")
    proc = subprocess.Popen(
        [altus, "dev", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        entry = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            try:
                entries = _graphql(port, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
            except (requests.ConnectionError, requests.HTTPError, KeyError, TypeError):
                entries = []
            if entries and entries[0]["loadStatus"] == "LOADED":
                entry = entries[0]
                break
            time.sleep(1)
        assert entry is not None, (tmp_path / "dev.log").read_text()[-3000:]
        assert entry["name"] == "altus_pipeline"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        nodes = _graphql(port, ASSETS_QUERY)["assetNodes"]
        groups = {n["assetKey"]["path"][0]: n["groupName"] for n in nodes}
        assert groups["doorloop_raw_leases"] == "raw" and groups["doorloop_raw_work_orders"] == "raw"
        output = (tmp_path / "dev.log").read_text()
        assert "Warning" not in output and "Error" not in output, output[-3000:]
    finally:
        stop(proc)
        log.close()
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS ui_test CASCADE")
