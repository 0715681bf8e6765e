"""KPIs (docs/kpis.md): golden values worked out by hand, identities, views, recompute.

The golden dataset is written as JSON files and served by the sandbox (as ``altus sandbox
serve --data DIR`` would), synced raw → normalized → KPIs through the Dagster Definitions.
As-of date D = 2025-03-15 unless said otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import dagster as dg
import pytest

from altus_pipeline.definitions import build_definitions
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.kpi.compute import KPI_COLUMNS
from altus_pipeline.normalized.spec import key_of
from altus_pipeline.resources import DoorLoopResource, WarehouseResource
from altus_pipeline.runner import kpis, normalize, refresh_views, sync_raw
from altus_pipeline.sandbox.server import Sandbox, SandboxConfig
from altus_pipeline_tests.conftest import TOKEN
from altus_pipeline_tests.normalized.test_normalized import load_raw, normalize_direct

D = dt.date(2025, 3, 15)


def _id(name: str) -> str:
    """A DoorLoop-like 24-hex id for a readable name."""
    return name.encode().hex().ljust(24, "0")[:24]


def _tenant(name):
    return {"id": _id("T" + name), "firstName": name, "lastName": "Doe", "name": f"{name} Doe", "type": "LEASE_TENANT"}


def _lease(name, prop, units, start, end, term, status, rent, rollover=False):
    return {
        "id": _id(name),
        "name": name,
        "property": _id(prop),
        "units": [_id(u) for u in units],
        "start": start,
        "end": end,
        "term": term,
        "rolloverToAtWill": rollover,
        "status": status,
        "totalRecurringRent": rent,
    }


def _lt(lease, tenant, move_in, move_out=None, status="CURRENT"):
    return {
        "id": _id("LT" + lease + tenant),
        "lease": _id(lease),
        "tenant": {"id": _id("T" + tenant)},
        "moveInAt": move_in,
        "moveOutAt": move_out,
        "status": status,
    }


def _tx(kind, name, lease, date, amount, lines=None):
    record = {"id": _id(kind + name), "lease": _id(lease), "date": date}
    if kind == "PAY":
        record["amountReceived"] = amount
    else:
        record["totalAmount"] = amount
        record["lines"] = [{"id": _id(f"{name}L{i}"), "amount": a} for i, a in enumerate(lines or [])]
    return record


def _wo(name, prop, created, completed=None, status="COMPLETED", type_="WORK_ORDER"):
    return {
        "id": _id("W" + name),
        "subject": name,
        "type": type_,
        "status": status,
        "createdAt": created,
        "completedAt": completed,
        **({"property": _id(prop)} if prop else {}),
    }


def golden_dataset() -> dict[str, list]:
    units = [  # (name, property, active, marketRent)
        ("U1", "P1", True, 1000),
        ("U2", "P1", True, 1200),
        ("U3", "P1", True, 800),
        ("U4", "P1", False, 5000),
        ("U5", "P1", True, None),
        ("U6", "P2", True, 2000),
        ("U7", "P2", True, 1500),
    ]
    return {
        "owners": [{"id": _id("O1"), "firstName": "Olga", "lastName": "Owner", "name": "Olga Owner"}],
        "properties": [
            {"id": _id("P1"), "name": "Alpha", "owners": [{"owner": _id("O1"), "ownershipPercentage": 100}]},
            {"id": _id("P2"), "name": "Beta"},
            {"id": _id("P3"), "name": "Gamma (no units)"},
        ],
        "units": [{"id": _id(n), "name": n, "property": _id(p), "active": a, "marketRent": m} for n, p, a, m in units],
        "tenants": [_tenant(n) for n in ("1", "2", "3", "4", "5", "6")],
        "leases": [
            _lease("L1", "P1", ["U1", "U2"], "2024-06-01", "2025-05-31", "Fixed", "ACTIVE", 2000),  # two units
            _lease("L2", "P1", ["U3"], "2024-01-01", None, "AtWill", "ACTIVE", 750),  # AtWill, no end
            _lease("L3", "P2", ["U6"], "2024-01-01", "2025-12-31", "Fixed", "INACTIVE", 1900),  # moved out 02-14
            _lease("L4", "P2", ["U6"], "2025-04-01", "2026-03-31", "Fixed", "ACTIVE", 2100),  # future
            _lease("L5", "P1", ["U4"], "2024-10-01", "2025-04-10", "Fixed", "ACTIVE", "500.00"),  # inactive unit
            _lease("L6", "P2", ["U7"], "2025-01-01", "2025-04-30", "Fixed", "ACTIVE", 1400),
        ],
        "lease_tenants": [
            _lt("L1", "1", "2024-06-01"),
            _lt("L2", "2", "2024-01-01"),
            _lt("L3", "3", "2024-01-01", "2025-02-14", "PAST"),
            _lt("L4", "4", "2025-04-01", status="FUTURE"),
            _lt("L5", "5", "2024-10-01"),
            _lt("L6", "6", "2025-01-01"),
        ],
        "lease_charges": [
            _tx("CH", "L2a", "L2", "2024-11-01", 750),
            _tx("CH", "L2b", "L2", "2024-12-01", 750),
            _tx("CH", "L2c", "L2", "2025-01-01", 750),
            _tx("CH", "L2d", "L2", "2025-02-01", 750),
            _tx("CH", "L2e", "L2", "2025-03-01", 999, lines=[500, "250.00"]),  # lines win: 750
            _tx("CH", "L1a", "L1", "2025-03-01", 2000),
            _tx("CH", "L5a", "L5", "2025-03-01", "500.00"),  # numeric string, lines [] → totalAmount
            _tx("CH", "L6a", "L6", "2025-03-01", 1400),
            _tx("CH", "L3a", "L3", "2024-12-01", 1900),
            # nothing charged on D: L3's balance step from D carries what came before, its last reversal too
            _tx("CH", "L3z", "L3", "2025-03-15", 0),
        ],
        "lease_payments": [
            _tx("PAY", "L2a", "L2", "2024-11-03", 750),
            _tx("PAY", "L2b", "L2", "2024-12-05", 400),
            _tx("PAY", "L2c", "L2", "2025-01-05", 750),
            _tx("PAY", "L2d", "L2", "2025-03-10", 150),
            _tx("PAY", "L1a", "L1", "2025-03-03", 2100),
            _tx("PAY", "L6a", "L6", "2025-03-05", 1400),
            _tx("PAY", "L3a", "L3", "2024-12-02", 1900),
        ],
        "lease_credits": [_tx("CR", "L2a", "L2", "2025-02-10", 100, lines=[100])],
        "lease_reversed_payments": [
            _tx("RV", "L2a", "L2", "2025-01-20", 750),
            _tx("RV", "L6a", "L6", "2025-03-12", 1400),
            _tx("RV", "L3a", "L3", "2024-12-20", 1900),
            _tx("RV", "L3b", "L3", "2025-02-12", 200),
        ],
        "tasks": [
            _wo("1", "P1", "2025-03-01T10:00:00Z", "2025-03-02T10:00:00Z"),  # exactly 24 h
            _wo("2", "P1", "2025-02-01T00:00:00Z", "2025-02-04T12:00:00Z"),  # 3.5 days
            _wo("3", "P1", "2025-03-10T08:00:00Z", status="IN_PROGRESS"),  # open
            _wo("4", "P1", "2025-03-05T00:00:00Z", status="COMPLETED"),  # COMPLETED without completedAt: open
            _wo("5", "P1", "2025-03-20T00:00:00Z", status="NOT_STARTED"),  # created after D
            _wo("6", "P1", "2025-03-01T00:00:00Z", status="ARCHIVED"),  # archived: not open
            _wo("7", "P2", "2024-12-01T00:00:00Z", "2024-12-01T06:00:00Z"),  # completed before D-90
            _wo("8", "P2", "2025-03-14T23:00:00Z", "2025-03-16T01:00:00Z"),  # completed after D: open on D
            _wo("9", None, "2025-03-01T00:00:00Z", status="RECEIVED"),  # no property: counts nowhere
            _wo("10", "P2", "2025-01-10T00:00:00Z", "2025-01-12T00:00:00+02:00"),  # 1.916667 days
            _wo("11", "P1", "2025-03-01T00:00:00Z", status="NOT_STARTED", type_="INTERNAL_TASK"),
        ],
    }


# Worked out by hand for D = 2025-03-15 (see each comment).
EXPECTED = {
    "P1": dict(
        units_total=4,  # U1 U2 U3 U5 (U4 inactive)
        units_occupied=3,  # U1 U2 by the two-unit L1, U3 by the AtWill L2; U5 vacant
        units_vacant=1,
        physical_occupancy="0.750000",
        gross_potential_rent="3000.00",  # 1000 + 1200 + 800 + 0 (null marketRent)
        avg_market_rent="1000.00",  # (1000 + 1200 + 800) / 3: the null is left out
        scheduled_rent="3250.00",  # L1 2000 + L2 750 + L5 500 (its unit is inactive, the lease still counts)
        economic_occupancy="1.083333",
        avg_lease_rent="1083.33",  # 3250 / 3
        # L2: charges 5 x 750 = 3750; pool = 750 + 400 + 750 + 150 paid + 100 credit - 750 reversed = 1400;
        # FIFO: Nov 750 and Dec 650 consumed, Dec 100 open (104 days), Jan 750 (73), Feb 750 (42), Mar 750 (14)
        # L5: 500 open (14 days). L1: 2000 - 2100 = -100 prepaid.
        delinquent_balance="2850.00",
        prepaid_balance="100.00",
        delinquent_leases=2,
        aging_0_30="1250.00",
        aging_31_60="750.00",
        aging_61_90="750.00",
        aging_90_plus="100.00",
        delinquency_rate="0.876923",  # 2850 / (750 + 2000 + 500 charged in (02-13, 03-15])
        charged_mtd="3250.00",
        collected_mtd="2250.00",  # paid in March: 150 + 2100
        collection_rate_mtd="0.692308",
        leases_expiring_30=1,
        leases_expiring_60=0,
        leases_expiring_90=1,  # L5 ends 04-10, L1 05-31
        move_outs_t12m=0,
        turnover_rate_t12m="0.000000",
        work_orders_open=2,  # W3 in progress, W4 COMPLETED without completedAt
        work_orders_completed_t90=2,
        work_order_median_days_t90="2.250000",  # (1 + 3.5) / 2
        work_orders_within_24h_t90="0.500000",  # W1 exactly 24 h counts
    ),
    "P2": dict(
        units_total=2,
        units_occupied=1,  # U6: L3 moved out 02-14, L4 starts 04-01; U7 by L6
        units_vacant=1,
        physical_occupancy="0.500000",
        gross_potential_rent="3500.00",
        avg_market_rent="1750.00",
        scheduled_rent="1400.00",
        economic_occupancy="0.400000",
        avg_lease_rent="1400.00",
        # L6: 1400 charged, 1400 paid then reversed: 1400 open (14 days).
        # L3: 1900 charged, 1900 paid, 1900 + 200 reversed: pool -200, so the Dec charge is open (104 days)
        # and -pool 200 is an item dated at the latest reversal 02-12 (31 days).
        delinquent_balance="3500.00",
        prepaid_balance="0.00",
        delinquent_leases=2,
        aging_0_30="1400.00",
        aging_31_60="200.00",
        aging_61_90="0.00",
        aging_90_plus="1900.00",
        delinquency_rate="2.500000",  # 3500 / 1400
        charged_mtd="1400.00",
        collected_mtd="0.00",
        collection_rate_mtd="0.000000",  # 1400 paid - 1400 reversed
        leases_expiring_30=0,
        leases_expiring_60=1,
        leases_expiring_90=0,  # L6 ends 04-30
        move_outs_t12m=1,
        turnover_rate_t12m="0.500000",  # L3 by move-out 2025-02-14
        work_orders_open=1,  # W8 completed after D
        work_orders_completed_t90=1,
        work_order_median_days_t90="1.916667",  # W10: 46 h (+02:00 offset)
        work_orders_within_24h_t90="0.000000",
    ),
    "P3": dict(
        units_total=0,
        units_occupied=0,
        units_vacant=0,
        physical_occupancy=None,
        gross_potential_rent="0.00",
        avg_market_rent=None,
        scheduled_rent="0.00",
        economic_occupancy=None,
        avg_lease_rent=None,
        delinquent_balance="0.00",
        prepaid_balance="0.00",
        delinquent_leases=0,
        aging_0_30="0.00",
        aging_31_60="0.00",
        aging_61_90="0.00",
        aging_90_plus="0.00",
        delinquency_rate=None,
        charged_mtd="0.00",
        collected_mtd="0.00",
        collection_rate_mtd=None,
        leases_expiring_30=0,
        leases_expiring_60=0,
        leases_expiring_90=0,
        move_outs_t12m=0,
        turnover_rate_t12m=None,
        work_orders_open=0,
        work_orders_completed_t90=0,
        work_order_median_days_t90=None,
        work_orders_within_24h_t90=None,
    ),
    "portfolio": dict(
        units_total=6,
        units_occupied=4,
        units_vacant=2,
        physical_occupancy="0.666667",
        gross_potential_rent="6500.00",
        avg_market_rent="1300.00",  # 6500 / 5 units with a marketRent
        scheduled_rent="4650.00",
        economic_occupancy="0.715385",
        avg_lease_rent="1162.50",  # 4650 / 4
        delinquent_balance="6350.00",
        prepaid_balance="100.00",
        delinquent_leases=4,
        aging_0_30="2650.00",
        aging_31_60="950.00",
        aging_61_90="750.00",
        aging_90_plus="2000.00",
        delinquency_rate="1.365591",  # 6350 / 4650
        charged_mtd="4650.00",
        collected_mtd="2250.00",
        collection_rate_mtd="0.483871",
        leases_expiring_30=1,
        leases_expiring_60=1,
        leases_expiring_90=1,
        move_outs_t12m=1,
        turnover_rate_t12m="0.166667",
        work_orders_open=3,  # W9 has no property: not even the portfolio
        work_orders_completed_t90=3,
        work_order_median_days_t90="1.916667",  # of 1, 1.916667, 3.5
        work_orders_within_24h_t90="0.333333",
    ),
}


def _norm(value):
    return None if value is None else (Decimal(value) if isinstance(value, str) else value)


def _rows(wh, dates=None) -> dict[tuple, dict]:
    """Snapshot rows keyed by (as_of_date, 'P1'|'P2'|'P3'|'portfolio')."""
    names = {key_of("properties", _id(p)): p for p in ("P1", "P2", "P3")}
    with wh.connect() as conn:
        cur = conn.execute("SELECT as_of_date, property_id, " + ", ".join(KPI_COLUMNS) + " FROM kpi_daily_snapshot")
        rows = cur.fetchall()
    return {
        (r[0], names.get(r[1], "portfolio") if r[1] else "portfolio"): dict(zip(KPI_COLUMNS, r[2:], strict=True))
        for r in rows
    }


@pytest.fixture(params=["as-generated", "flipped"])
def golden(warehouse, tmp_path, request):
    """The golden dataset served from JSON files, synced and normalized through Dagster; also
    with every reference served in the other shape (bare id <-> object), for the same KPIs."""
    data = tmp_path / "golden"
    data.mkdir()
    for name, records in golden_dataset().items():
        (data / f"{name}.json").write_text(json.dumps(records))
    server = Sandbox.from_directory(
        data,
        SandboxConfig(token=TOKEN, rate_limit_per_minute=None, rate_limit_per_hour=None, reference_shape=request.param),
    )
    server.start()
    try:
        defs = build_definitions(
            WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema),
            DoorLoopResource(
                base_url=server.base_url,
                token=TOKEN,
                rate_limit_per_minute=0,
                rate_limit_per_hour=0,
                backoff_base_seconds=0.01,
                timeout_seconds=5.0,
            ),
        )
        instance = dg.DagsterInstance.ephemeral()
        entities = [ENTITIES[n] for n in golden_dataset()]
        summaries = sync_raw(defs, entities, instance, (dt.date(2024, 11, 1), dt.date(2025, 3, 31)))
        assert all(s.success for s in summaries)
        assert normalize(defs, instance).success
        yield defs, instance
    finally:
        server.stop()


def test_golden_kpis_match_the_hand_worked_values(warehouse, golden):
    defs, instance = golden
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*) FROM doorloop_error_records").fetchone()[0] == 0
    summary = kpis(defs, instance, (D, D))
    assert summary.success and summary.checks and all(summary.checks.values()), summary.checks
    rows = _rows(warehouse)
    assert set(rows) == {(D, k) for k in EXPECTED}
    for scope, expected in EXPECTED.items():
        got = rows[(D, scope)]
        assert set(expected) == set(KPI_COLUMNS)
        mismatches = {k: (got[k], v) for k, v in expected.items() if got[k] != _norm(v)}
        assert not mismatches, (scope, mismatches)

    # a ranged run (one statement for 11 dates) gives the same row for D; a later recompute too
    assert kpis(defs, instance, (dt.date(2025, 3, 10), dt.date(2025, 3, 20))).success
    again = _rows(warehouse)
    assert len(again) == 11 * 4 and all(again[(D, s)] == rows[(D, s)] for s in EXPECTED)
    # dates either side: 03-01 charges not yet paid; 03-20 W5 created; a month boundary resets MTD
    assert again[(dt.date(2025, 3, 20), "P1")]["work_orders_open"] == 3
    assert kpis(defs, instance, (dt.date(2025, 4, 1), dt.date(2025, 4, 1))).success
    april = _rows(warehouse)[(dt.date(2025, 4, 1), "P2")]
    assert april["charged_mtd"] == 0 and april["collection_rate_mtd"] is None
    assert april["units_occupied"] == 2  # the future lease L4 now covers U6
    assert april["scheduled_rent"] == Decimal("3500.00")  # L6 1400 + L4 2100

    # views: populated; row counts match their bases (test_views_concurrently proves the later refreshes)
    first = refresh_views(defs, instance)
    assert first.success and all(first.checks.values()), first.checks
    with warehouse.connect() as conn:
        roll = {
            r[0]: r[1:]
            for r in conn.execute("SELECT unit_name, status, balance, as_of_date FROM get_full_rent_roll").fetchall()
        }
        summary_rows = conn.execute("SELECT count(*), max(as_of_date) FROM get_full_kpi_summary").fetchone()
        by_owner = conn.execute("SELECT count(*), min(ownership_percentage) FROM get_full_kpi_by_owner").fetchone()
    assert set(roll) == {"U1", "U2", "U3", "U5", "U6", "U7"}  # rentable units only
    assert roll["U6"][0] == "OCCUPIED" and roll["U5"][0] == "VACANT" and roll["U6"][2] == dt.date(2025, 4, 1)
    assert summary_rows == (4, dt.date(2025, 4, 1))
    assert by_owner == (12, Decimal("100"))  # P1 on its 12 stored dates, owned 100 % by O1


def _check_identities(wh, start, end):
    from altus_pipeline.checks.kpis import _AGING_SQL, _COMPLETE_SQL, _PORTFOLIO_SQL, _RANGES_SQL

    with wh.connect() as conn:
        for query in (_PORTFOLIO_SQL, _AGING_SQL, _RANGES_SQL, _COMPLETE_SQL):
            assert conn.execute(query).fetchone()[0] == 0, query
        dates = conn.execute(
            "SELECT count(DISTINCT as_of_date), min(as_of_date), max(as_of_date) FROM kpi_daily_snapshot"
        ).fetchone()
        busy = conn.execute(
            "SELECT count(*) FROM kpi_daily_snapshot WHERE scope = 'portfolio' "
            "AND delinquent_balance > 0 AND units_occupied > 0 AND work_orders_completed_t90 > 0"
        ).fetchone()[0]
    assert dates == ((end - start).days + 1, start, end)
    assert busy == dates[0]  # the identities were tested on real numbers


@pytest.mark.parametrize("scale", ["small", "medium"])
def test_identities_hold_for_every_date_of_a_60_day_backfill(warehouse, scale):
    from altus_pipeline.sandbox.generator import generate_dataset

    load_raw(warehouse, generate_dataset(scale, seed=0))
    normalize_direct(warehouse)
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    instance = dg.DagsterInstance.ephemeral()
    start, end = dt.date(2026, 8, 31), dt.date(2026, 10, 29)
    summary = kpis(defs, instance, (start, end))
    on_snapshot = {
        f"{k.asset_key.to_user_string()}:{k.name}"
        for k in defs.resolve_asset_graph().asset_check_keys
        if k.asset_key == dg.AssetKey("kpi_daily_snapshot")
    }
    assert summary.success and set(summary.checks) == on_snapshot and all(summary.checks.values()), summary.checks
    _check_identities(warehouse, start, end)
    with warehouse.connect() as conn:
        before = conn.execute(
            "SELECT * FROM kpi_daily_snapshot WHERE as_of_date = '2026-09-15' ORDER BY property_id NULLS FIRST"
        ).fetchall()
    # recomputing one past date later, alone, gives the same rows
    assert kpis(defs, instance, (dt.date(2026, 9, 15), dt.date(2026, 9, 15))).success
    with warehouse.connect() as conn:
        after = conn.execute(
            "SELECT * FROM kpi_daily_snapshot WHERE as_of_date = '2026-09-15' ORDER BY property_id NULLS FIRST"
        ).fetchall()
    assert after == before and len(before) > 1
    if scale == "small":
        views = refresh_views(defs, instance)
        assert views.success and all(views.checks.values()), views.checks
