"""Checks on the legal tables: phases agree with their history; links point at DoorLoop data;
bills belong to cases, are not paid past their amount, and their allocations add up.

``phase_matches_history`` is blocking: a case whose current phase is not where its history
ends means the append-only record and the case row disagree. ``links_resolve`` warns when
a case names a tenant or lease the normalized layer does not hold (say while it rebuilds).
The bill checks are blocking: ``get_full_legal_cases`` reports billed, paid and outstanding
from them. (That view's rows equal the cases: its ``row_count_matches_base`` check.)
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.checks.steps import Check, check
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

_ORPHAN_BILLS = """
SELECT count(*) FROM legal_case_bills b WHERE NOT EXISTS (SELECT 1 FROM legal_cases c WHERE c.id = b.case_id)
"""
_OVERPAID_BILLS = "SELECT count(*) FROM legal_case_bills WHERE paid_amount > amount"
_UNALLOCATED = """
SELECT count(*) FROM legal_case_bills b
WHERE b.paid_amount <> coalesce((SELECT sum(a.amount) FROM legal_bill_allocations a WHERE a.bill_id = b.id), 0)
"""


@check(
    asset="legal_case_phase_history",
    name="phase_matches_history",
    blocking=True,
    description="Every case's current phase is the last phase of its history.",
)
def phase_matches_history(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.warehouse().connect() as conn:
        mismatched = conn.execute(_LAST_STEP).fetchone()[0]
    return dg.AssetCheckResult(passed=mismatched == 0, metadata={"cases_not_matching_history": mismatched})


@check(
    asset="legal_cases",
    name="links_resolve",
    description="Every tenant and lease a case names is in the normalized tables.",
)
def links_resolve(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.warehouse().connect() as conn:
        unlinked = conn.execute(_UNLINKED).fetchone()[0]
    return dg.AssetCheckResult(
        passed=unlinked == 0, severity=dg.AssetCheckSeverity.WARN, metadata={"cases_with_missing_links": unlinked}
    )


def _count_check(asset: str, name: str, query: str, description: str, metric: str) -> Check:
    @check(asset=asset, name=name, blocking=True, description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            found = conn.execute(query).fetchone()[0]
        return dg.AssetCheckResult(passed=found == 0, metadata={metric: found})

    return _check


bill_checks = [
    _count_check(
        "legal_case_bills",
        "bill_cases_exist",
        _ORPHAN_BILLS,
        "Every bill's case is in legal_cases.",
        "bills_without_case",
    ),
    _count_check(
        "legal_case_bills",
        "paid_within_amount",
        _OVERPAID_BILLS,
        "No bill is paid past its amount (the import refuses such a row).",
        "bills_paid_over_amount",
    ),
    _count_check(
        "legal_bill_allocations",
        "allocations_sum_to_paid",
        _UNALLOCATED,
        "Each bill's allocations add up to its paid amount.",
        "bills_not_matching_allocations",
    ),
]
legal_checks = [phase_matches_history, links_resolve, *bill_checks]
