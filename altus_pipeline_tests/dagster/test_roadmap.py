"""The naming roadmap: the repository, the Definitions and the database follow the plan, and
each kind of drift is reported with a line naming what drifted.

``test_repository_definitions_and_database_follow_the_plan`` is how CI runs the validation
(``.ci/run`` → ``make test``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from altus_pipeline.checks.roadmap import naming_result, roadmap_checks
from altus_pipeline.cli.main import main
from altus_pipeline.definitions import build_definitions
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.roadmap import CHECK_NAME, PLAN_NAME, PlanError, load_plan, validate
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import REPO


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    """The pipeline's Definitions, built once for the tests that only read them."""
    return build_definitions()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A private copy of the plan and ``sql/`` to break."""
    shutil.copytree(REPO / "sql", tmp_path / "sql")
    shutil.copy(REPO / PLAN_NAME, tmp_path / PLAN_NAME)
    return tmp_path


def _plan_after(root: Path, anchor: str, line: str) -> None:
    """Insert ``line`` into the copied plan right after the line containing ``anchor``."""
    plan = root / PLAN_NAME
    lines = plan.read_text().splitlines(keepends=True)
    at = next(i for i, text in enumerate(lines) if anchor in text)
    plan.write_text("".join(lines[: at + 1] + [line + "\n"] + lines[at + 1 :]))


def _replace_in_plan(root: Path, old: str, new: str) -> None:
    plan = root / PLAN_NAME
    assert old in plan.read_text()
    plan.write_text(plan.read_text().replace(old, new))


def test_repository_definitions_and_database_follow_the_plan(warehouse: Warehouse) -> None:
    assert validate(build_definitions(), warehouse) == []


def test_plan_expands_the_raw_template_over_the_registry() -> None:
    plan = load_plan()
    raw = {name for name, obj in plan.objects.items() if obj.layer == "raw"}
    assert raw == {e.raw_table for e in ENTITIES.values()} | {"doorloop_raw_work_orders"}
    assert {layer.rule.text for layer in plan.layers.values()} == {
        "doorloop_raw_<entity>",
        "normalized_<name>",
        "kpi_<name>",
        "get_full_<name>",
        "legal_<name>",
        "doorloop_<name>",
    }


# -- the repository -------------------------------------------------------------------


def _unplanned_file(root: Path) -> str:
    (root / "sql" / "raw" / "doorloop_raw_extra.sql").write_text("SELECT 1;\n")
    return "file sql/raw/doorloop_raw_extra.sql: not the file of any object"


def _planned_file_missing(root: Path) -> str:
    (root / "sql" / "ops" / "doorloop_api_call_log.sql").unlink()
    return "object doorloop_api_call_log: its file sql/ops/doorloop_api_call_log.sql does not exist"


def _file_named_unlike_its_object(root: Path) -> str:
    (root / "sql" / "ops" / "doorloop_api_call_log.sql").rename(root / "sql" / "ops" / "api_call_log.sql")
    _replace_in_plan(root, "file: sql/ops/doorloop_api_call_log.sql", "file: sql/ops/api_call_log.sql")
    return "object doorloop_api_call_log: file sql/ops/api_call_log.sql is not named like it"


def _raw_table_of_no_registry_entity(root: Path) -> str:
    (root / "sql" / "raw" / "doorloop_raw_leasess.sql").write_text("SELECT 1;\n")
    _plan_after(
        root,
        "name: doorloop_raw_work_orders",
        "      - {name: doorloop_raw_leasess, kind: table, file: sql/raw/doorloop_raw_leasess.sql}",
    )
    return "object doorloop_raw_leasess: does not match the raw rule doorloop_raw_<entity>"


def _ops_table_posing_as_raw(root: Path) -> str:
    (root / "sql" / "ops" / "doorloop_raw_stats.sql").write_text("SELECT 1;\n")
    _plan_after(
        root,
        "name: doorloop_pipeline_audit",
        "      - {name: doorloop_raw_stats, kind: table, file: sql/ops/doorloop_raw_stats.sql}",
    )
    return "object doorloop_raw_stats: is named like the raw layer"


@pytest.mark.parametrize(
    "breakage",
    [
        _unplanned_file,
        _planned_file_missing,
        _file_named_unlike_its_object,
        _raw_table_of_no_registry_entity,
        _ops_table_posing_as_raw,
    ],
)
def test_repository_drift_is_reported_by_name(
    defs: dg.Definitions, root: Path, breakage: Callable[[Path], str]
) -> None:
    expected = breakage(root)
    violations = validate(defs, root=root)
    assert any(v.startswith(expected) for v in violations), violations


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("```yaml", "```text", "expected exactly one ```yaml block, found 0"),
        ("rule: kpi_<name>", "rule: kpi_*", "rule 'kpi_*' is not"),
        ("kind: view", "kind: index", "layer raw object doorloop_raw_work_orders: kind 'index'"),
        (
            "work_orders: tasks",
            "work_orders: jobs",
            "derived entity work_orders: its source 'jobs' is not a registry entity",
        ),
        (
            "work_orders: tasks",
            "work_orders: units",
            "derived_entities {'work_orders': 'units'} differ from the registry's {'work_orders': 'tasks'}",
        ),
        ("asset_group: kpi", "asset_group: raw", "layer kpi: asset_group 'raw' is already that of layer raw"),
        (
            "name: doorloop_raw_work_orders",
            "name: doorloop_error_records",
            "object doorloop_error_records: planned twice",
        ),
    ],
)
def test_a_malformed_plan_is_one_violation_naming_the_plan(
    defs: dg.Definitions, root: Path, old: str, new: str, expected: str
) -> None:
    _replace_in_plan(root, old, new)
    violations = validate(defs, root=root)
    assert len(violations) == 1 and violations[0].startswith(f"{PLAN_NAME}: {expected}"), violations


def test_the_plan_is_parsed_once_per_text_and_an_edit_is_seen_at_once(root: Path) -> None:
    first = load_plan(root)
    assert load_plan(root) is first  # a run's roadmap_naming checks (one per asset) share one parse
    _replace_in_plan(root, "```yaml", "```text")
    with pytest.raises(PlanError, match="expected exactly one ```yaml block"):
        load_plan(root)


# -- the Definitions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "group", "expected"),
    [
        ("raw_accounts", "raw", "not a planned object of the raw layer"),
        ("doorloop_raw_acounts", "raw", "does not match the raw rule doorloop_raw_<entity>"),
        ("doorloop_raw_accounts", "ops", "planned under layer raw, but its group 'ops' is layer ops"),
        ("kpi_summary_draft", None, "group 'default' is the asset_group of no layer in the plan"),
    ],
)
def test_misnamed_asset_is_reported_by_name(name: str, group: str | None, expected: str) -> None:
    @dg.asset(name=name, group_name=group)
    def misnamed() -> None: ...

    violations = validate(dg.Definitions(assets=[misnamed]))
    assert f"asset {name}: {expected}" in violations, violations
    assert f"asset {name}: has no {CHECK_NAME} check" in violations


def test_every_asset_has_a_passing_roadmap_naming_check() -> None:
    built = build_definitions()
    dg.Definitions.validate_loadable(built)
    checked = {key.asset_key for c in built.asset_checks for key in c.check_keys if key.name == CHECK_NAME}
    assert checked == set(built.resolve_all_asset_keys())
    results = {c.spec.asset_key: c() for c in roadmap_checks(list(built.assets))}
    assert set(results) == checked and all(r.passed for r in results.values())


def test_roadmap_naming_fails_on_a_misnamed_asset_with_the_reason() -> None:
    result = naming_result(dg.AssetKey("raw_accounts"), "raw")
    assert not result.passed
    assert (
        result.description == "asset raw_accounts: not a planned object of the raw layer; "
        "asset raw_accounts: does not match the raw rule doorloop_raw_<entity>"
    )


# -- the database ---------------------------------------------------------------------


def test_database_drift_is_reported_by_name(defs: dg.Definitions, warehouse: Warehouse) -> None:
    with warehouse.connect() as conn:
        conn.execute("DROP TABLE doorloop_raw_notes")
        conn.execute("CREATE TABLE doorloop_scratch (id int)")
        conn.execute("DROP VIEW doorloop_raw_work_orders")
        conn.execute("CREATE TABLE doorloop_raw_work_orders (id text)")
    assert validate(defs, warehouse) == [
        "object doorloop_raw_notes: missing from schema " + warehouse.schema,
        "object doorloop_raw_work_orders: is a table in schema " + warehouse.schema + ", planned as view",
        f"database {warehouse.schema}.doorloop_scratch (table): not in the plan",
    ]


# -- the command line -----------------------------------------------------------------


def test_cli_validates_the_configured_database(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALTUS_DATABASE_URL", warehouse.url)
    monkeypatch.setenv("ALTUS_SCHEMA", warehouse.schema)
    ok = CliRunner().invoke(main, ["roadmap", "validate"])
    assert ok.exit_code == 0 and f"schema {warehouse.schema}" in ok.output, ok.output
    with warehouse.connect() as conn:
        conn.execute("DROP TABLE doorloop_raw_notes")
    failed = CliRunner().invoke(main, ["roadmap", "validate"])
    assert failed.exit_code == 1
    assert failed.output.splitlines() == [f"object doorloop_raw_notes: missing from schema {warehouse.schema}"]


def test_old_script_name_runs_the_validation() -> None:
    done = subprocess.run(
        [str(REPO / "validate_against_roadmap.sh"), "--no-db"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("roadmap OK")
