"""``altus doctor`` and ``GET /users/me``: the token is confirmed and its account named before a first sync.

The doctor runs as users run it, ``.venv/bin/altus doctor`` in a subprocess, against a sandbox
over HTTP and a real PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from altus_pipeline.doorloop.client import DoorLoopClient
from altus_pipeline.doorloop.errors import DoorLoopAuthError
from altus_pipeline.doorloop.shared_budget import budget_key
from altus_pipeline.sandbox.server import Sandbox
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import REPO, TOKEN

ALTUS = REPO / ".venv" / "bin" / "altus"
REFUSED = "DoorLoop refused the token (401): set DOORLOOP_API_TOKEN to a key from DoorLoop → Settings → API"


@pytest.fixture
def account(sandbox_factory: Callable[..., Sandbox], small_dataset_pristine: dict[str, list]) -> Sandbox:
    return sandbox_factory({"users": small_dataset_pristine["users"]})


@pytest.fixture
def owner(small_dataset_pristine: dict[str, list]) -> dict:
    return next(u for u in small_dataset_pristine["users"] if u["owner"])


def doctor(
    sandbox: Sandbox,
    database_url: str,
    schema: str,
    home: Path,
    token: str | None = TOKEN,
) -> subprocess.CompletedProcess[str]:
    """``altus doctor`` with only the settings given here (none inherited from this shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOORLOOP_", "ALTUS_", "DAGSTER_"))}
    env.update(
        DOORLOOP_BASE_URL=sandbox.base_url,
        ALTUS_DATABASE_URL=database_url,
        ALTUS_SCHEMA=schema,
        ALTUS_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
    )
    if token is not None:
        env["DOORLOOP_API_TOKEN"] = token
    return subprocess.run([str(ALTUS), "doctor"], env=env, capture_output=True, text=True, timeout=60, cwd=home)


def test_users_me_over_http_names_the_keys_user(account: Sandbox, owner: dict) -> None:
    with DoorLoopClient(account.base_url, TOKEN) as client:
        assert client.me() == owner
    with DoorLoopClient(account.base_url, "not-the-token") as client, pytest.raises(DoorLoopAuthError):
        client.me()


def test_doctor_names_the_account_and_the_budget_left(
    account: Sandbox, owner: dict, warehouse: Warehouse, tmp_path: Path
) -> None:
    with warehouse.connect() as conn:
        conn.execute(
            "INSERT INTO doorloop_api_call_log (budget_key) SELECT %s FROM generate_series(1, 3)",
            (budget_key(account.base_url, TOKEN),),
        )
    result = doctor(account, warehouse.url, warehouse.schema, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["DoorLoop", "token", "warehouse", "rate", "Dagster"]
    assert f"reachable at {account.base_url}" in lines[0]
    assert f"{owner['name']} <{owner['loginEmail']}>" in lines[1]
    assert f"schema {warehouse.schema}: reachable, up to date" in lines[2]
    assert "47 of 50 requests left this minute, 497 of 500" in lines[3]
    assert str(tmp_path / "dagster") in lines[4]
    assert TOKEN not in result.stdout + result.stderr


def test_doctor_says_which_migrations_are_pending(account: Sandbox, warehouse: Warehouse, tmp_path: Path) -> None:
    with warehouse.connect() as conn:
        conn.execute(
            "UPDATE doorloop_schema_migrations SET checksum = 'stale' WHERE object_name = 'doorloop_raw_units'"
        )
    result = doctor(account, warehouse.url, warehouse.schema, tmp_path)
    assert result.returncode == 0 and "reachable, 1 object(s) to apply" in result.stdout, result.stdout
    fresh = doctor(account, warehouse.url, "doctor_never_migrated", tmp_path)
    assert fresh.returncode == 0 and "reachable, not migrated yet" in fresh.stdout, fresh.stdout


def test_doctor_refuses_a_wrong_token_in_one_line_without_showing_it(
    account: Sandbox, warehouse: Warehouse, tmp_path: Path
) -> None:
    wrong = "wrong-token-9c1d7e"
    result = doctor(account, warehouse.url, warehouse.schema, tmp_path, token=wrong)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].endswith(REFUSED), result.stdout
    assert "Traceback" not in result.stderr and wrong not in result.stdout + result.stderr


def test_a_key_whose_role_may_not_read_users_still_passes(
    sandbox_factory: Callable[..., Sandbox], warehouse: Warehouse, tmp_path: Path
) -> None:
    """405 comes after DoorLoop accepted the key: not a reason to stop a first sync."""
    denied = sandbox_factory({}, denied_paths=frozenset({"/users"}))
    result = doctor(denied, warehouse.url, warehouse.schema, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "accepted, but its role may not read /users (405)" in result.stdout.splitlines()[1]


def test_doctor_without_a_token_says_so(account: Sandbox, warehouse: Warehouse, tmp_path: Path) -> None:
    result = doctor(account, warehouse.url, warehouse.schema, tmp_path, token=None)
    assert result.returncode == 1
    assert "DOORLOOP_API_TOKEN is not set" in result.stdout.splitlines()[-1], result.stdout


def test_doctor_stops_at_an_unreachable_warehouse_without_its_password(account: Sandbox, tmp_path: Path) -> None:
    result = doctor(
        account, "postgresql://altus:pw-4e8a1b@/altus?host=/nonexistent&connect_timeout=2", "altus", tmp_path
    )
    assert result.returncode == 1
    last = result.stdout.splitlines()[-1]
    assert last.startswith("warehouse") and "not reachable" in last and "pw-4e8a1b" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
