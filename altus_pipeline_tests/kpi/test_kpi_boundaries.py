"""Every day-count boundary of docs/kpis.md, pinned on a hand-made dataset.

One property, one unit, and for each window records dated exactly on its edges: charges
aged 0, 29, 30, 31, 60, 61, 90 and 91 days (aging buckets, the 30-day delinquency window,
month-to-date), Fixed leases ending D, D+1, D+30, D+31, D+60, D+61, D+90 and D+91
(expirations), leases that ended D, D−364, D−365 and D−366 (move-outs t12m) and work
orders completed or created around D, D−89, D−90 and D−91 (t90, open), and a lease whose
old charge is paid on D itself (a balance changes on the day of the movement). The records go
through the real raw loader and normalize, the snapshot through the ``kpi_daily_snapshot``
asset for one as-of date. Each charge amount is a distinct power of two, so a bucket's sum
names exactly which charges it holds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg

from altus_pipeline.definitions import build_definitions
from altus_pipeline.kpi.compute import KPI_COLUMNS
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import kpis
from altus_pipeline_tests.kpi.test_kpis import _id, _lease, _tx, _wo
from altus_pipeline_tests.normalized.test_normalized import normalize_direct
from altus_pipeline_tests.support.raw import load_raw

D = dt.date(2025, 7, 31)  # month start 07-01 is D − 30: month-to-date, yet outside the 30 days (D − 30, D]
AGES = {0: 1, 29: 2, 30: 4, 31: 8, 60: 16, 61: 32, 90: 64, 91: 128}  # charge age in days -> amount


def _day(offset: int) -> str:
    return (D + dt.timedelta(days=offset)).isoformat()


def _stamp(offset: int, hour: int = 12) -> str:
    return f"{_day(offset)}T{hour:02d}:00:00Z"


def boundary_dataset() -> dict[str, list]:
    expiring = [0, 1, 30, 31, 60, 61, 90, 91]  # Fixed, ACTIVE: covering D, ending D + n
    ended = [0, -364, -365, -366]  # AtWill, INACTIVE: effective end D + n
    leases = [_lease(name, "P", ["U"], "2024-01-01", None, "AtWill", "ACTIVE", 100) for name in ("AGED", "PAID")]
    leases += [_lease(f"EXP{n}", "P", ["U"], "2024-01-01", _day(n), "Fixed", "ACTIVE", 100) for n in expiring]
    leases += [_lease(f"END{-n}", "P", ["U"], "2023-01-01", _day(n), "AtWill", "INACTIVE", 100) for n in ended]
    return {
        "properties": [{"id": _id("P"), "name": "Edge"}],
        "units": [{"id": _id("U"), "name": "U", "property": _id("P"), "active": True, "marketRent": 100}],
        "leases": leases,
        "lease_charges": [_tx("CH", f"A{age}", "AGED", _day(-age), amount) for age, amount in AGES.items()]
        + [_tx("CH", "OLD", "PAID", _day(-200), 512)],
        "lease_payments": [_tx("PAY", "ONDAY", "PAID", _day(0), 512)],  # settles PAID's balance as of D
        "tasks": [
            _wo("DONE0", "P", _stamp(-100), _stamp(0)),  # completed on D: in t90, not open
            _wo("DONE89", "P", _stamp(-100), _stamp(-89)),  # one day inside t90
            _wo("DONE90", "P", _stamp(-100), _stamp(-90)),  # on the edge: D − 90 is outside (D − 90, D]
            _wo("DONE91", "P", _stamp(-100), _stamp(-91)),  # one day outside
            _wo("NEW0", "P", _stamp(0, 23), status="NOT_STARTED"),  # created late on D: open
            _wo("NEW1", "P", _stamp(1, 0), status="NOT_STARTED"),  # created D + 1: not yet
            _wo("LATE1", "P", _stamp(-5), _stamp(1, 0)),  # completed D + 1: open on D
        ],
    }


# The KPIs each boundary moves, worked out by hand for D = 2025-07-31.
EXPECTED = dict(
    aging_0_30=Decimal("7.00"),  # ages 0, 29, 30: 1 + 2 + 4
    aging_31_60=Decimal("24.00"),  # ages 31, 60: 8 + 16
    aging_61_90=Decimal("96.00"),  # ages 61, 90: 32 + 64
    aging_90_plus=Decimal("128.00"),  # age 91
    delinquent_balance=Decimal("255.00"),  # AGED's charges; PAID owes nothing from D on
    delinquent_leases=1,
    collected_mtd=Decimal("512.00"),  # PAID's payment on D
    charged_mtd=Decimal("7.00"),  # from 07-01 (age 30) to D: 1 + 2 + 4; 06-30 (age 31) is last month
    delinquency_rate=Decimal("85.000000"),  # 255 / 3: charged in (D − 30, D] = ages 0 and 29, not 30
    leases_expiring_30=2,  # D + 1, D + 30 (ending on D itself is not expiring)
    leases_expiring_60=2,  # D + 31, D + 60
    leases_expiring_90=2,  # D + 61, D + 90 (D + 91 is past every window)
    move_outs_t12m=2,  # D and D − 364; D − 365 is the open edge of (D − 365, D]
    work_orders_completed_t90=2,  # D and D − 89
    work_orders_open=2,  # created on D; completed D + 1
)


def test_every_window_edge_lands_where_docs_kpis_says(warehouse):
    load_raw(warehouse, boundary_dataset())
    normalize_direct(warehouse)
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*) FROM doorloop_error_records").fetchone()[0] == 0
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    # D − 1 too, so that no edge of a window is also an edge of the range computed
    summary = kpis(defs, dg.DagsterInstance.ephemeral(), (D - dt.timedelta(days=1), D))
    assert summary.success, summary.errors
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT scope, " + ", ".join(KPI_COLUMNS) + " FROM kpi_daily_snapshot WHERE as_of_date = %s", (D,)
        ).fetchall()
    assert sorted(r[0] for r in rows) == ["portfolio", "property"]
    for scope, *values in rows:
        got = dict(zip(KPI_COLUMNS, values, strict=True))
        mismatches = {k: (got[k], v) for k, v in EXPECTED.items() if got[k] != v}
        assert not mismatches, (scope, mismatches)
