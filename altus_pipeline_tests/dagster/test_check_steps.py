"""Checks run one step per asset: each still reported, selectable and failing on its own."""

from __future__ import annotations

import dagster as dg
import pytest

from altus_pipeline.checks.steps import check, one_step_per_asset
from altus_pipeline.definitions import build_definitions

calls: list[str] = []


@dg.asset
def thing() -> int:
    return 1


@dg.asset(deps=[thing])
def after_thing() -> int:
    return 2


@check(asset="thing", name="always_passes", description="passes")
def always_passes() -> dg.AssetCheckResult:
    calls.append("always_passes")
    return dg.AssetCheckResult(passed=True, metadata={"n": 1})


@check(asset="thing", name="blocks", description="fails, blocking", blocking=True)
def blocks() -> dg.AssetCheckResult:
    calls.append("blocks")
    return dg.AssetCheckResult(passed=False, description="not so")


@check(asset="thing", name="breaks", description="cannot run")
def breaks() -> dg.AssetCheckResult:
    calls.append("breaks")
    raise RuntimeError("no database")


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_every_asset_has_one_check_step_holding_all_its_checks():
    defs = build_definitions()
    steps = list(defs.asset_checks)
    assets = {key.asset_key for step in steps for key in step.check_keys}
    assert len(steps) == len(assets)
    assert sum(len(step.check_keys) for step in steps) > 2 * len(steps)


def test_each_check_reports_and_a_broken_one_fails_the_step_after_the_others():
    calls.clear()
    (step,) = one_step_per_asset([always_passes, breaks, blocks])
    result = dg.materialize([thing, after_thing, step], raise_on_error=False)
    assert calls == ["always_passes", "breaks", "blocks"]
    assert _evaluations(result) == {"always_passes": True, "blocks": False}
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    assert failed == ["thing_checks"]
    assert "after_thing" not in {e.asset_key.path[0] for e in result.get_asset_materialization_events()}


@pytest.mark.parametrize("name", ["always_passes", "blocks"])
def test_a_check_selected_alone_runs_alone(name):
    calls.clear()
    (step,) = one_step_per_asset([always_passes, blocks, breaks])
    selection = dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey("thing"), name))
    result = dg.materialize([thing, after_thing, step], selection=selection, raise_on_error=False)
    assert calls == [name]
    assert list(_evaluations(result)) == [name]
