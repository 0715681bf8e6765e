"""Checks on the KPI tables: the identities of ``docs/kpis.md#general-rules``, stale history, view row counts.

They are separate asset checks (one evaluation per run, not per partition of a ranged
run, see ``checks/raw.py``) over every stored date. The identities are blocking: the
reporting views downstream must not publish numbers that contradict themselves.
``history_current`` only warns: stale dates are recomputed by ``kpi_history_sensor``,
which also reports this check between KPI runs, so the UI shows them before it runs.
"""

from __future__ import annotations

import dagster as dg
from psycopg import sql

from altus_pipeline.assets.views import VIEWS
from altus_pipeline.checks.steps import Check, check
from altus_pipeline.kpi.compute import COUNTS, MONEY
from altus_pipeline.kpi.stale import StaleKpis, stale_history
from altus_pipeline.resources import WarehouseResource

SNAPSHOT = "kpi_daily_snapshot"
HISTORY_CHECK = dg.AssetCheckKey(dg.AssetKey(SNAPSHOT), "history_current")
# Additive KPIs: the portfolio row equals the sum of the property rows.
ADDITIVE = tuple(c for c in (*COUNTS, *MONEY) if not c.startswith("avg_"))

_PORTFOLIO_SQL = sql.SQL("""
SELECT count(*), min(f.as_of_date) FROM (
    SELECT s.as_of_date FROM kpi_daily_snapshot s
    LEFT JOIN (SELECT as_of_date, {sums}
               FROM kpi_daily_snapshot WHERE scope = 'property' GROUP BY as_of_date) p
           ON p.as_of_date = s.as_of_date
    WHERE s.scope = 'portfolio' AND ({differs})
) f
""").format(
    sums=sql.SQL(", ").join(sql.SQL("sum({c}) AS {c}").format(c=sql.Identifier(c)) for c in ADDITIVE),
    differs=sql.SQL(" OR ").join(
        sql.SQL("s.{c} IS DISTINCT FROM coalesce(p.{c}, 0)").format(c=sql.Identifier(c)) for c in ADDITIVE
    ),
)
_AGING_SQL = """
SELECT count(*), min(as_of_date) FROM kpi_daily_snapshot
WHERE aging_0_30 + aging_31_60 + aging_61_90 + aging_90_plus <> delinquent_balance
"""
_RANGES_SQL = """
SELECT count(*), min(as_of_date) FROM kpi_daily_snapshot
WHERE NOT (coalesce(physical_occupancy BETWEEN 0 AND 1, true)
       AND units_occupied <= units_total AND units_occupied >= 0 AND units_vacant = units_total - units_occupied
       AND least(aging_0_30, aging_31_60, aging_61_90, aging_90_plus, delinquent_balance, prepaid_balance) >= 0
       AND coalesce(work_orders_within_24h_t90 BETWEEN 0 AND 1, true)
       AND coalesce(economic_occupancy >= 0, true) AND coalesce(turnover_rate_t12m >= 0, true)
       AND coalesce(delinquency_rate >= 0, true))
"""
_COMPLETE_SQL = """
SELECT count(*), min(d.as_of_date) FROM (SELECT DISTINCT as_of_date FROM kpi_daily_snapshot) d
WHERE (SELECT count(*) FROM kpi_daily_snapshot s WHERE s.as_of_date = d.as_of_date)
   <> (SELECT count(*) FROM normalized_properties WHERE gone_at IS NULL) + 1
"""


def _identity_check(name: str, query: sql.Composable | str, description: str) -> Check:
    @check(asset=SNAPSHOT, name=name, blocking=True, description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            bad, first = conn.execute(query).fetchone()
        return dg.AssetCheckResult(passed=bad == 0, metadata={"violations": bad, "first_date": str(first)})

    return _check


def history_evaluation(stale: StaleKpis) -> dg.AssetCheckEvaluation:
    """``history_current`` for ``stale``: failed with the range and the raw assets, or passed.

    One builder for the check and the sensor's runless report, so both read the same in the UI.
    """
    metadata = (
        {}
        if stale.dates is None
        else {
            "stale_from": stale.dates[0].isoformat(),
            "stale_to": stale.dates[1].isoformat(),
            "touched_by": ", ".join(stale.sources),
        }
    )
    return dg.AssetCheckEvaluation(
        asset_key=HISTORY_CHECK.asset_key,
        check_name=HISTORY_CHECK.name,
        passed=stale.dates is None,
        metadata=metadata,
        severity=dg.AssetCheckSeverity.WARN,
    )


@check(
    asset=SNAPSHOT,
    name=HISTORY_CHECK.name,
    blocking=False,
    description="No KPI date is stale: every raw change since the first KPI run is covered by a later "
    "kpi_daily_snapshot run (else stale_from..stale_to, touched_by).",
)
def history_current(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.warehouse().connect() as conn:
        evaluation = history_evaluation(stale_history(conn))
    return dg.AssetCheckResult(passed=evaluation.passed, metadata=evaluation.metadata, severity=evaluation.severity)


def _view_count_check(view: str, base_sql: str) -> Check:
    @check(asset=view, name="row_count_matches_base", description=f"Rows of {view} equal its base: {base_sql}")
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().connect() as conn:
            rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(view))).fetchone()[0]
            base = conn.execute(base_sql).fetchone()[0]
        return dg.AssetCheckResult(passed=rows == base, metadata={"view_rows": rows, "base_rows": base})

    return _check


kpi_checks: list[Check] = [
    _identity_check(
        "portfolio_equals_sum_of_properties",
        _PORTFOLIO_SQL,
        "For every date, the portfolio row's counts and money totals equal the sum of the property rows.",
    ),
    _identity_check(
        "aging_sums_to_delinquent_balance",
        _AGING_SQL,
        "On every row, the four aging buckets sum to delinquent_balance to the cent.",
    ),
    _identity_check(
        "ratios_and_balances_in_range",
        _RANGES_SQL,
        "0 <= physical_occupancy <= 1, units_occupied <= units_total, buckets and balances >= 0, "
        "within-24h share in [0, 1].",
    ),
    _identity_check(
        "one_row_per_property_and_portfolio",
        _COMPLETE_SQL,
        "Every stored date has one row per property plus the portfolio row.",
    ),
    history_current,
]
view_checks: list[Check] = [_view_count_check(v, base) for v, (_, base, _) in VIEWS.items()]
