"""Errors a person can act on: one line saying what failed and what to do, the traceback behind --verbose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from altus_pipeline.warehouse import embedded
from altus_pipeline_tests.conftest import TOKEN
from altus_pipeline_tests.support.held import hold_request

ALTUS = str(Path(sys.executable).with_name("altus"))


def _env(**values: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALTUS_", "DOORLOOP_", "DAGSTER_"))}
    return {**clean, **values}


def _run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([ALTUS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_bad_schema_is_one_line(tmp_path):
    done = _run(_env(ALTUS_SCHEMA="public", ALTUS_HOME=str(tmp_path)), "db", "url", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: ALTUS_SCHEMA='public' is not allowed: expected a lowercase identifier other than 'public'"
    ]
    assert not (tmp_path / "pgdata").exists(), "a refused setting started the embedded PostgreSQL"


@pytest.mark.parametrize("command", [["db", "migrate"], ["sync", "--entity", "owners"]])
def test_an_unreachable_database_is_one_line_without_its_password(tmp_path, command):
    """``sync`` migrates on a thread while Dagster loads: its failure is still the command's one line."""
    env = _env(ALTUS_DATABASE_URL="postgresql://altus:s3cret-pw@127.0.0.1:1/warehouse", DOORLOOP_API_TOKEN=TOKEN)
    done = _run(env, *command, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: the warehouse database stopped answering or cannot be reached")
    assert "ALTUS_DATABASE_URL" in lines[0] and "s3cret-pw" not in done.stderr + done.stdout
    verbose = _run(env, "--verbose", *command, cwd=tmp_path)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_a_sync_without_the_token_is_one_line_naming_its_variable(tmp_path, warehouse):
    """The token reaches DoorLoop's resource through dg.EnvVar: unset, Dagster refuses the run."""
    env = _env(ALTUS_HOME=str(tmp_path), ALTUS_DATABASE_URL=warehouse.url, ALTUS_SCHEMA=warehouse.schema)
    done = _run(env, "sync", "--entity", "owners", cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stdout + done.stderr
    assert lines[0].startswith("Error: DOORLOOP_API_TOKEN is not set"), lines


def test_a_database_stopped_mid_sync_ends_in_one_line_saying_so(tmp_path, sandbox_factory, small_dataset):
    """The database goes away while a sync is paging: no flood, and the last line says what to do."""
    server = sandbox_factory(small_dataset)
    home = tmp_path / "home"
    env = _env(
        ALTUS_HOME=str(home),
        DOORLOOP_BASE_URL=server.base_url,
        DOORLOOP_API_TOKEN=TOKEN,
        DOORLOOP_RATE_LIMIT_PER_MINUTE="off",
        DOORLOOP_RATE_LIMIT_PER_HOUR="off",
        ALTUS_PARTITION_START=os.environ["ALTUS_PARTITION_START"],
    )
    # A deterministic stop point: the fourth request waits, unanswered, until the database is down.
    held, release = hold_request(server)
    try:
        _run(env, "db", "url", cwd=tmp_path)
        sync = subprocess.Popen(
            [ALTUS, "sync"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert held.wait(120), "the sync never reached its fourth request"
        assert sync.poll() is None, "the sync ended before the database could be stopped"
        embedded.stop_server(home / "pgdata")
        release.set()
        output, _ = sync.communicate(timeout=240)
    finally:
        release.set()
        embedded.stop_server(home / "pgdata")
    lines = output.strip().splitlines()
    assert sync.returncode == 1
    assert "Traceback" not in output and len(lines) < 40, output[-3000:]
    assert lines[-1].startswith("Error: the warehouse database stopped answering"), lines[-1]
