"""Checks on the legal tables: phases agree with their history; links point at DoorLoop data.

``phase_matches_history`` is blocking: a case whose current phase is not where its history
ends means the append-only record and the case row disagree. ``links_resolve`` warns when
a case names a tenant or lease the normalized layer does not hold (say while it rebuilds).
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.resources import WarehouseResource

_LAST_STEP = """
SELECT count(*) FROM legal_cases c
LEFT JOIN LATERAL (SELECT h.to_phase FROM legal_case_phase_history h WHERE h.case_id = c.id ORDER BY h.id DESC LIMIT 1) h
    ON true
WHERE h.to_phase IS DISTINCT FROM c.current_phase
"""
_UNLINKED = """
SELECT count(*) FROM legal_cases c
WHERE (c.tenant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM normalized_tenants t WHERE t.id = c.tenant_id
                                               AND t.gone_at IS NULL))
   OR (c.lease_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM normalized_leases l WHERE l.id = c.lease_id
                                              AND l.gone_at IS NULL))
"""


@dg.asset_check(asset="legal_case_phase_history", name="phase_matches_history", blocking=True,
                description="Every case's current phase is the last phase of its history.")
def phase_matches_history(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.warehouse().connect() as conn:
        mismatched = conn.execute(_LAST_STEP).fetchone()[0]
    return dg.AssetCheckResult(passed=mismatched == 0, metadata={"cases_not_matching_history": mismatched})


@dg.asset_check(asset="legal_cases", name="links_resolve",
                description="Every tenant and lease a case names is in the normalized tables.")
def links_resolve(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.warehouse().connect() as conn:
        unlinked = conn.execute(_UNLINKED).fetchone()[0]
    return dg.AssetCheckResult(passed=unlinked == 0, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"cases_with_missing_links": unlinked})


legal_checks = [phase_matches_history, links_resolve]
