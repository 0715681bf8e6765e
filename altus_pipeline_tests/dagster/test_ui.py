"""The Dagster UI: `altus dev` serves the code location, loaded without errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

from altus_pipeline_tests.conftest import REPO
from altus_pipeline_tests.support.dagster_gql import Dev, location_loaded

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


def test_altus_dev_serves_the_code_location_loaded(pg_url, tmp_path):
    env = {
        **os.environ,
        "ALTUS_HOME": str(tmp_path),
        "ALTUS_DATABASE_URL": pg_url,
        "ALTUS_SCHEMA": "ui_test",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    env.pop("DOORLOOP_API_TOKEN", None)
    altus = str(Path(sys.executable).with_name("altus"))
    dev = Dev.altus_dev(altus, _free_port(), REPO, env, tmp_path / "dev.log")
    try:
        dev.wait("the code location", lambda: location_loaded(dev), 240)
        entry = dev.gql(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"][0]
        assert entry["name"] == "altus_pipeline"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        nodes = dev.gql(ASSETS_QUERY)["assetNodes"]
        groups = {n["assetKey"]["path"][0]: n["groupName"] for n in nodes}
        assert groups["doorloop_raw_leases"] == "raw" and groups["doorloop_raw_work_orders"] == "raw"
        output = dev.log.read_text()
        assert "Warning" not in output and "Error" not in output, output[-3000:]
    finally:
        stop(dev.proc)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS ui_test CASCADE")
