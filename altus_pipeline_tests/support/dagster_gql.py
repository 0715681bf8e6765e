"""Drive a running Dagster webserver over GraphQL, as the UI does.

Shared by the tests that start real processes (`altus dev`, a hand-started webserver and
daemon, the production topology with a gRPC code server).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import requests

LOCATION = {"repositoryLocationName": "altus_pipeline", "repositoryName": "__repository__"}

LAUNCH_RUN = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }
"""
RUN = """
query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }
"""
FAILURES = """
query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events { __typename
  ... on ExecutionStepFailureEvent { stepKey error { message } } ... on RunFailureEvent { message } } } } }
"""
WORKSPACE = """
{ workspaceOrError { ... on Workspace { locationEntries { loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


class Dev:
    """A running webserver (and the processes serving it) and its GraphQL endpoint.

    ``proc`` is the process the webserver runs in; ``also`` are the others it needs (a
    daemon, a code server): a wait fails at once, with the log, when any of them exits.
    """

    def __init__(self, port: int, proc: subprocess.Popen, log: Path, also: Sequence[subprocess.Popen] = ()) -> None:
        self.port, self.proc, self.log, self.also = port, proc, log, tuple(also)

    @classmethod
    def altus_dev(cls, altus: str, port: int, cwd: Path, env: dict[str, str], log: Path, **popen: Any) -> Dev:
        """Start ``altus dev`` on ``port`` in a session of its own (so a test can end all it
        started with one ``killpg``), its output in ``log``."""
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [altus, "dev", "--port", str(port)],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **popen,
            )
        return cls(port, proc, log)

    def gql(self, query: str, **variables: Any) -> dict:
        response = requests.post(
            f"http://127.0.0.1:{self.port}/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def tail(self) -> str:
        return self.log.read_text()[-4000:]

    def wait(self, what: str, probe: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in (self.proc, *self.also):
                assert proc.poll() is None, f"{proc.args[0]} exited while waiting for {what}:\n{self.tail()}"
            value = probe()
            if value:
                return value
            time.sleep(1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.tail()}")

    def materialize(self, asset_key: str) -> dict:
        """Launch a run of one asset, as its page's *Materialize* button does; the launched run
        (``runId``, ``status``), the launch checked successful."""
        launched = self.gql(
            LAUNCH_RUN,
            params={
                "selector": {**LOCATION, "jobName": "__ASSET_JOB", "assetSelection": [{"path": [asset_key]}]},
                "executionMetadata": {"tags": []},
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]

    def run_status(self, run_id: str) -> str:
        return self.gql(RUN, id=run_id)["runOrError"]["status"]

    def wait_for_run(self, run_id: str, timeout: float = 180) -> None:
        status = self.wait(
            f"run {run_id}", lambda: (s := self.run_status(run_id)) in ("SUCCESS", "FAILURE", "CANCELED") and s, timeout
        )
        if status != "SUCCESS":
            events = self.gql(FAILURES, id=run_id)["logsForRun"]["events"]
            raise AssertionError(f"run {run_id} ended {status}: {[e for e in events if len(e) > 1]}")


def location_loaded(dev: Dev, wait_for_code_server: bool = False) -> bool:
    """Whether the webserver has loaded the code location (fails on a load error).

    With ``wait_for_code_server``, a gRPC code server that does not answer yet is not an
    error: the webserver loads the location once it does.
    """
    try:
        entries = dev.gql(WORKSPACE)["workspaceOrError"]["locationEntries"]
    except (requests.ConnectionError, requests.HTTPError):
        return False
    if entries and entries[0]["loadStatus"] == "LOADED":
        error = entries[0]["locationOrLoadError"].get("message") or ""
        if wait_for_code_server and "DagsterUserCodeUnreachableError" in error:
            return False
        assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
        return True
    return False
