"""``roadmap_naming`` on every asset: its key is planned under its group's layer and named
by that layer's rule, so the UI shows a naming violation on the asset it concerns.

The check reads the plan when it runs, not when the code loads: after the plan is edited,
re-running the check reports against the new plan. It needs no database.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from altus_pipeline.checks.steps import Check, check
from altus_pipeline.roadmap import CHECK_NAME, PLAN_NAME, PlanError, asset_violations, load_plan


def naming_result(key: dg.AssetKey, group: str) -> dg.AssetCheckResult:
    """The check's verdict for one asset, with the violations (if any) as metadata."""
    try:
        violations = asset_violations(load_plan(), key, group)
    except PlanError as exc:
        violations = [f"{PLAN_NAME}: {exc}"]
    return dg.AssetCheckResult(
        passed=not violations,
        description="; ".join(violations) or f"planned and named by the rule of group {group!r}",
        metadata={"group": group, "violations": violations},
    )


def _build_check(key: dg.AssetKey, group: str) -> Check:
    @check(
        asset=key,
        name=CHECK_NAME,
        description=f"{key.to_user_string()} is planned in {PLAN_NAME} under its group's layer and named by its rule.",
    )
    def roadmap_naming() -> dg.AssetCheckResult:
        return naming_result(key, group)

    return roadmap_naming


def roadmap_checks(assets: Sequence[dg.AssetsDefinition]) -> list[Check]:
    """One ``roadmap_naming`` check per asset key of ``assets``."""
    return [_build_check(key, group) for a in assets for key, group in a.group_names_by_key.items()]
