"""The normalized layer: typed tables, junctions, DLQ, incremental runs, checks, no PII."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from decimal import Decimal

import dagster as dg
import pytest
from psycopg import sql

from altus_pipeline.checks.normalized import reconciliation_sql
from altus_pipeline.definitions import build_definitions
from altus_pipeline.normalized import ddl
from altus_pipeline.normalized.spec import TABLES, key_of
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.runner import normalize
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.warehouse.db import Warehouse

ALL_OBJECTS = [name for t in TABLES.values() for name in t.objects]
PII_COLUMN = r"(ssn|social|taxpayer|licen[cs]e|bank|card|routing|account_number|screening|stripe|birth)"


def load_raw(wh: Warehouse, dataset: dict[str, list]) -> None:
    """Write records straight into the raw tables as the raw loader would (changed rows only)."""
    with wh.connect() as conn:
        for name, records in dataset.items():
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS t_stage (id text, payload jsonb) ON COMMIT DROP")
            conn.execute("TRUNCATE t_stage")
            with conn.cursor().copy("COPY t_stage (id, payload) FROM STDIN") as copy_:
                for record in {r["id"]: r for r in records}.values():
                    copy_.write_row((record["id"], json.dumps(record)))
            conn.execute(sql.SQL(
                """INSERT INTO {t} AS t (id, payload, content_hash) SELECT id, payload, md5(payload::text) FROM t_stage
                   ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload, content_hash = EXCLUDED.content_hash,
                   last_changed_at = now(), deleted_at = NULL
                   WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash OR t.deleted_at IS NOT NULL"""
            ).format(t=sql.Identifier(ENTITIES[name].raw_table)))
        conn.commit()


def run_normalize(wh: Warehouse, entities=None):
    defs = build_definitions(WarehouseResource(database_url=wh.url, schema_name=wh.schema))
    summary = normalize(defs, dg.DagsterInstance.ephemeral(), entities)
    assert summary.success
    return summary


def normalize_direct(wh: Warehouse) -> dict:
    """Every table's normalize in dependency order, without Dagster (for tests that need no checks)."""
    results = {}
    with wh.connect() as conn:
        for t in TABLES.values():
            results[t.name] = Normalizer(conn, t, "test-run").run()
            conn.commit()
    return results


def _writes(summary) -> dict[str, tuple]:
    return {k: (m["inserted"], m["updated"], m["deleted"]) for k, m in summary.materializations.items()}


def _one(wh: Warehouse, query: str, *params):
    with wh.connect() as conn:
        return conn.execute(query, params).fetchone()


def _all(wh: Warehouse, query: str, *params):
    with wh.connect() as conn:
        return conn.execute(query, params).fetchall()


def _dlq(wh: Warehouse) -> dict[tuple[str, str], tuple[str, str, str]]:
    rows = _all(wh, "SELECT entity, doorloop_id, field, message, status FROM doorloop_error_records WHERE stage = 'normalize'")
    return {(e, i): (f, m, s) for e, i, f, m, s in rows}


def test_ddl_files_are_generated_from_the_spec(warehouse):
    rendered = ddl.rendered()
    for name, text in rendered.items():
        assert (ddl.LAYER_DIR / name).read_text() == text, f"{name} is stale: python -m altus_pipeline.normalized.ddl"
    columns = defaultdict(list)
    for table, column in _all(warehouse, "SELECT table_name, column_name FROM information_schema.columns "
                                         "WHERE table_schema = current_schema() AND table_name LIKE 'normalized%%' "
                                         "ORDER BY ordinal_position"):
        columns[table].append(column)
    for t in TABLES.values():
        assert columns[t.name] == ["id", "doorloop_id", *(c.name for c in t.columns), "normalized_at", "last_run_id"]
        for ch in t.children:
            assert columns[ch.name] == list(ch.all_columns)


def test_small_normalizes_fully_and_a_rerun_writes_nothing(warehouse, small_dataset):
    # raw is loaded directly (test_raw covers the sync); normalize runs through the Definitions
    load_raw(warehouse, small_dataset)
    instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    first = normalize(defs, instance)
    assert first.success
    failed = [k for k, ok in first.checks.items() if not ok]
    assert not failed and len(first.checks) > 4 * len(TABLES), failed
    assert set(first.materializations) == set(ALL_OBJECTS)
    data = {e: {r["id"]: r for r in small_dataset[e]} for e in ENTITIES}

    # every table populated; each normalized table holds exactly its live raw rows, none in the DLQ
    for name, meta in first.materializations.items():
        assert meta["dagster/row_count"] > 0, name
    assert _dlq(warehouse) == {}
    for t in TABLES.values():
        expected = {i for i, r in data[t.source].items() if t.where is None or r.get("type") == "WORK_ORDER"}
        rows = dict(_all(warehouse, sql.SQL("SELECT doorloop_id, id FROM {}").format(sql.Identifier(t.name))))
        assert set(rows) == expected, t.name
        assert all(rows[i] == key_of(t.entity, i) for i in list(rows)[:50]), t.name

    # multi-unit and multi-tenant leases appear fully in their junctions
    lease_units = defaultdict(set)
    for lease, unit in _all(warehouse, "SELECT l.doorloop_id, u.doorloop_id FROM normalized_lease_units lu "
                                       "JOIN normalized_leases l ON l.id = lu.lease_id JOIN normalized_units u ON u.id = lu.unit_id"):
        lease_units[lease].add(unit)
    assert lease_units == {i: set(r["units"]) for i, r in data["leases"].items()}
    assert any(len(u) > 1 for u in lease_units.values())
    lease_tenants = defaultdict(set)
    for lease, tenant in _all(warehouse, "SELECT l.doorloop_id, t.doorloop_id FROM normalized_lease_tenants lt "
                                         "JOIN normalized_leases l ON l.id = lt.lease_id JOIN normalized_tenants t ON t.id = lt.tenant_id"):
        lease_tenants[lease].add(tenant)
    expected_tenants = defaultdict(set)
    for row in data["lease_tenants"].values():
        expected_tenants[row["lease"]].add(row["tenant"]["id"])
    assert lease_tenants == expected_tenants and any(len(t) > 1 for t in lease_tenants.values())

    # owners' percentages per property sum as in the source
    sums = dict(_all(warehouse, "SELECT p.doorloop_id, sum(po.ownership_percentage) FROM normalized_property_owners po "
                                "JOIN normalized_properties p ON p.id = po.property_id GROUP BY 1"))
    assert sums == {i: Decimal(str(sum(o["ownershipPercentage"] for o in r["owners"])))
                    for i, r in data["properties"].items() if r.get("owners")}

    # typed values: money to the cent, dates as dates, real key spellings
    lease = next(iter(data["leases"].values()))
    row = _one(warehouse, "SELECT start, total_recurring_rent, eviction_pending, total_balance_due "
                          "FROM normalized_leases WHERE doorloop_id = %s", lease["id"])
    assert (row[0].isoformat(), row[1], row[2]) == (lease["start"], Decimal(str(lease["totalRecurringRent"])).quantize(Decimal("0.01")), lease["evictionPending"])
    charge_total = _one(warehouse, "SELECT sum(amount) FROM normalized_lease_charge_lines")[0]
    assert charge_total == sum(Decimal(str(line["amount"])) for r in data["lease_charges"].values() for line in r["lines"])
    work_order = _one(warehouse, "SELECT count(*) FROM normalized_work_orders w JOIN normalized_tasks t ON t.id = w.task_id "
                                 "WHERE t.type = 'WORK_ORDER' AND w.vendor_id IS NOT NULL")[0]
    assert work_order == len([t for t in data["tasks"].values() if t["type"] == "WORK_ORDER"])

    # a re-run with nothing changed reads nothing and writes nothing
    before = _one(warehouse, "SELECT max(normalized_at), count(*) FROM normalized_lease_charges")
    second = normalize(defs, instance)
    assert set(_writes(second).values()) == {(0, 0, 0)}
    assert all(m.get("candidates", 0) == 0 for m in second.materializations.values())
    assert _one(warehouse, "SELECT max(normalized_at), count(*) FROM normalized_lease_charges") == before
    assert all(second.checks.values())


@pytest.fixture
def dirty(small_dataset):
    """The small dataset with three bad records, plus PII planted in raw."""
    data = copy.deepcopy(small_dataset)
    prop = data["properties"][0]
    prop["createdAt"] = "2024-02-30T10:00:00Z"
    lease = next(l for l in data["leases"] if l["property"] != prop["id"] and len(l["units"]) == 1)
    missing_unit = "f" * 24
    lease["units"] = [*lease["units"], missing_unit]
    payment = next(p for p in data["lease_payments"] if p["lease"] != lease["id"])
    payment["amountReceived"] = "two hundred"
    pii = {"ssn": "123-45-6789", "driversLicense": "D1234-5678-PII", "bankAccountNumber": "000123456789",
           "screeningId": "SCR-PII-0042", "cardNumber": "4111111111111111"}
    data["tenants"][0].update(pii, taxpayerId="987-65-4321")
    data["users"][0]["bankAccounts"] = [{"accountNumber": "998877665544", "routingNumber": "021000021"}]
    data["lease_payments"][1]["checkInfo"] = {"accountNumber": "556677889900", "routingNumber": "021000089"}
    return {"data": data, "prop": prop, "lease": lease, "missing_unit": missing_unit, "payment": payment,
            "pii": [*pii.values(), "987-65-4321", "998877665544", "556677889900"]}


def test_bad_records_go_to_the_dlq_and_resolve_when_fixed(warehouse, dirty):
    data = dirty["data"]
    load_raw(warehouse, data)
    first = run_normalize(warehouse)
    assert all(first.checks.values()), [k for k, ok in first.checks.items() if not ok]
    dlq = _dlq(warehouse)
    prop, lease, payment = dirty["prop"], dirty["lease"], dirty["payment"]
    assert dlq[("properties", prop["id"])][0] == "createdAt"
    assert "is not a timestamp" in dlq[("properties", prop["id"])][1]
    assert dlq[("leases", lease["id"])][0] == "units[1]"
    assert dirty["missing_unit"] in dlq[("leases", lease["id"])][1]
    assert dlq[("lease_payments", payment["id"])][0] == "amountReceived"
    assert '"two hundred" is not an amount' in dlq[("lease_payments", payment["id"])][1]
    # a rejected parent takes its children with it, each with its own reason
    assert dlq[("units", next(u["id"] for u in data["units"] if u["property"] == prop["id"]))][0] == "property"
    assert all(status == "open" for _, _, status in dlq.values())
    # ... and every other record loaded
    for t in TABLES.values():
        live, rows, in_dlq = _one(warehouse, reconciliation_sql(t))
        assert live == rows + in_dlq, t.name
    assert _one(warehouse, "SELECT count(*) FROM normalized_leases WHERE doorloop_id = %s", lease["id"])[0] == 0

    # the same failures again: nothing is written, not even to the DLQ
    dlq_state = _all(warehouse, "SELECT id, attempts, last_seen_at FROM doorloop_error_records ORDER BY id")
    again = run_normalize(warehouse)
    assert set(_writes(again).values()) == {(0, 0, 0)}
    assert _all(warehouse, "SELECT id, attempts, last_seen_at FROM doorloop_error_records ORDER BY id") == dlq_state

    # the missing unit arrives, the payment and the property are fixed: the next run resolves all
    new_unit = {**copy.deepcopy(next(u for u in data["units"] if u["property"] == lease["property"])),
                "id": dirty["missing_unit"], "name": "Annex"}
    payment["amountReceived"] = "200.005"
    prop["createdAt"] = "2024-02-28T10:00:00Z"
    data["units"].append(new_unit)
    load_raw(warehouse, data)
    fixed = run_normalize(warehouse)
    assert all(fixed.checks.values())
    dlq = _dlq(warehouse)
    assert dlq and all(status == "resolved" for _, _, status in dlq.values()), dlq
    units = {u for (u,) in _all(warehouse, "SELECT u.doorloop_id FROM normalized_lease_units lu JOIN normalized_leases l "
                                            "ON l.id = lu.lease_id JOIN normalized_units u ON u.id = lu.unit_id "
                                            "WHERE l.doorloop_id = %s", lease["id"])}
    assert units == set(lease["units"])
    assert _one(warehouse, "SELECT amount_received FROM normalized_lease_payments WHERE doorloop_id = %s",
                payment["id"])[0] == Decimal("200.01")
    assert fixed.materializations["normalized_units"]["candidates"] >= 1
    assert fixed.materializations["normalized_tenants"]["candidates"] == 0  # untouched entities read nothing


def test_soft_deleted_rows_leave_with_their_junction_rows(warehouse, small_dataset):
    load_raw(warehouse, small_dataset)
    normalize_direct(warehouse)
    lease = next(l for l in small_dataset["leases"] if len(l["units"]) > 1)
    key = key_of("leases", lease["id"])
    assert _one(warehouse, "SELECT count(*) FROM normalized_lease_units WHERE lease_id = %s", key)[0] == len(lease["units"])
    with warehouse.connect() as conn:
        conn.execute("UPDATE doorloop_raw_leases SET deleted_at = now() WHERE id = %s", (lease["id"],))
        conn.commit()
    results = normalize_direct(warehouse)
    assert results["normalized_leases"].metadata("normalized_leases")["soft_deleted"] == 1
    assert _one(warehouse, "SELECT count(*) FROM normalized_leases WHERE id = %s", key)[0] == 0
    assert _one(warehouse, "SELECT count(*) FROM normalized_lease_units WHERE lease_id = %s", key)[0] == 0
    # its transactions now dangle: rejected to the DLQ, and the checks still reconcile
    charges = {c["id"] for c in small_dataset["lease_charges"] if c["lease"] == lease["id"]}
    dlq = _dlq(warehouse)
    assert charges and all(dlq[("lease_charges", c)][0] == "lease" for c in charges)
    for t in TABLES.values():
        live, rows, in_dlq = _one(warehouse, reconciliation_sql(t))
        assert live == rows + in_dlq, t.name


def test_pii_in_raw_never_reaches_a_normalized_table(warehouse, dirty):
    load_raw(warehouse, dirty["data"])
    normalize_direct(warehouse)
    names = [c for (c,) in _all(warehouse, "SELECT table_name || '.' || column_name FROM information_schema.columns "
                                          "WHERE table_schema = current_schema() AND table_name LIKE 'normalized%%' "
                                          "AND column_name ~ %s", PII_COLUMN)]
    assert names == []
    raw_text = _one(warehouse, "SELECT string_agg(payload::text, ' ') FROM doorloop_raw_tenants")[0]
    assert dirty["pii"][0] in raw_text  # present in raw ...
    with warehouse.connect() as conn:
        for name in ALL_OBJECTS:
            text = conn.execute(sql.SQL("SELECT coalesce(string_agg(t::text, ' '), '') FROM {} t")
                                .format(sql.Identifier(name))).fetchone()[0]
            leaked = [v for v in dirty["pii"] if v in text]
            assert not leaked, (name, leaked)  # ... absent from every normalized row


def test_a_retried_normalize_failure_that_fails_again_counts_attempts_until_dead(warehouse, dirty, monkeypatch):
    from altus_pipeline.ops.retry import request_retry

    monkeypatch.setenv("ALTUS_DLQ_MAX_ATTEMPTS", "3")
    load_raw(warehouse, dirty["data"])
    normalize_direct(warehouse)
    payment = dirty["payment"]["id"]
    query = "SELECT attempts, status FROM doorloop_error_records WHERE stage = 'normalize' AND doorloop_id = %s"
    record_id = _one(warehouse, "SELECT id FROM doorloop_error_records WHERE doorloop_id = %s", payment)[0]
    assert _one(warehouse, query, payment) == (1, "open")
    normalize_direct(warehouse)
    assert _one(warehouse, query, payment) == (1, "open"), "a plain re-run is not an attempt"
    for expected in ((2, "open"), (3, "dead")):
        with warehouse.connect() as conn:
            assert request_retry(conn, record_id=record_id) == 1
            conn.commit()
        normalize_direct(warehouse)
        assert _one(warehouse, query, payment) == expected
