"""Freshness policies: how stale a raw or KPI asset may get before Dagster warns or fails.

The daily schedule refreshes both every day; a warning after a missed day, a failure
after two. Shown on each asset in the UI (freshness state PASS / WARN / FAIL).
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

RAW_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=48), warn_window=timedelta(hours=26))
KPI_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=48), warn_window=timedelta(hours=26))
KPI_GROUP = "kpi"


def with_kpi_freshness(assets: list) -> list:
    """``assets`` with ``KPI_FRESHNESS`` on every asset of the KPI group that has none.

    Lets the KPI assets (built elsewhere) carry the policy without editing their factory.
    """

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.group_name == KPI_GROUP and spec.freshness_policy is None:
            return spec.replace_attributes(freshness_policy=KPI_FRESHNESS)
        return spec

    out = []
    for a in assets:
        if isinstance(a, dg.AssetsDefinition) and any(s.group_name == KPI_GROUP for s in a.specs):
            out.extend(dg.map_asset_specs(apply, [a]))
        else:
            out.append(a)
    return out
