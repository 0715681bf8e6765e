"""How ``altus`` talks: exit codes, a failure that says what, where and what next, and an
audit row for every run kind."""

from __future__ import annotations

import re
import subprocess

import dagster as dg
from click.testing import CliRunner

from altus_pipeline.assets.kpis import SUMMARY
from altus_pipeline.assets.views import VIEW_KEYS
from altus_pipeline.cli.main import main
from altus_pipeline.definitions import build_definitions
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import legal_import, refresh_views
from altus_pipeline_tests.legal.test_legal import write_workbook
from altus_pipeline_tests.raw.test_raw import ALTUS, REPO, _cli_env


def test_bad_usage_exits_2_before_touching_the_database():
    env = {"ALTUS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    for args in (
        ["sync", "--entity", "nope"],
        ["kpis", "--from", "2020-01-01"],
        ["sync", "--from", "1999-01-01", "--to", "1999-01-02"],
    ):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 2, (args, result.output)


def test_a_failed_sync_says_what_failed_where_and_what_next(
    warehouse, sandbox_factory, small_dataset, tmp_path, dagster_storage
):
    server = sandbox_factory(small_dataset, denied_paths=frozenset({"/owners"}))
    env = _cli_env(warehouse, server, tmp_path, ALTUS_UI_URL="http://ui.example:3000/")
    done = subprocess.run(
        [ALTUS, "sync", "--entity", "owners", "--entity", "units"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and len(output.splitlines()) <= 6, output
    assert re.match(r"raw master data: 1/2 assets, [\d,]+ records", done.stdout), done.stdout
    failed = done.stderr.splitlines()
    assert failed[0].startswith("FAILED raw master data: doorloop_raw_owners: "), failed
    run_id = re.fullmatch(r"run (\S+): http://ui\.example:3000/runs/(\S+)", failed[1])
    assert run_id and run_id[1] == run_id[2], failed
    assert "altus dlq list" in failed[2] and "--verbose" in failed[2]


def test_a_syncs_records_are_those_it_listed_not_the_rows_a_derived_view_holds(
    warehouse, sandbox_factory, small_dataset, tmp_path, dagster_storage
):
    server = sandbox_factory(small_dataset)
    env = _cli_env(warehouse, server, tmp_path)
    done = subprocess.run(
        [ALTUS, "sync", "--entity", "tasks"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with warehouse.connect() as conn:
        work_orders = conn.execute("SELECT count(*) FROM doorloop_raw_work_orders").fetchone()[0]
    assert work_orders > 0  # the derived view holds rows, and the tasks step listed every task
    tasks = len(server.records("tasks"))
    assert re.match(rf"raw master data: 2/2 assets, {tasks:,d} records, ", done.stdout), done.stdout


def test_view_refreshes_and_legal_imports_write_their_audit_rows(warehouse, tmp_path):
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    instance = dg.DagsterInstance.ephemeral()
    views = refresh_views(defs, instance)
    workbook = write_workbook(
        tmp_path / "cases.xlsx", [["EV-1", "Nowhere", "1A", "Nobody", None, "referral", "2026-09-01"]]
    )
    legal = legal_import(defs, instance, str(workbook))
    assert views.success and legal.materializations
    with warehouse.connect() as conn:
        audited = conn.execute(
            "SELECT run_id, asset_key, rows_listed, rejected FROM doorloop_pipeline_audit"
        ).fetchall()
    assert {key for run, key, _, _ in audited if run == views.run_id} == {SUMMARY, *VIEW_KEYS}
    assert [(key, listed, rejected) for run, key, listed, rejected in audited if run == legal.run_id] == [
        ("legal_cases", 1, 1)
    ]
