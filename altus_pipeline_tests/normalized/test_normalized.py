"""The normalized layer: typed tables, junctions, DLQ, incremental runs, checks, no PII."""

from __future__ import annotations

import copy
from collections import defaultdict
from decimal import Decimal

import dagster as dg
import pytest
from psycopg import sql

from altus_pipeline.checks.normalized import reconciliation_sql
from altus_pipeline.definitions import build_definitions
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.normalized.spec import TABLES, key_of
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import normalize
from altus_pipeline.sandbox.shapes import reference_id, reshape
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.support.raw import load_raw

ALL_OBJECTS = [name for t in TABLES.values() for name in t.objects]
PII_COLUMN = r"(ssn|social|taxpayer|licen[cs]e|bank|card|routing|account_number|screening|stripe|birth)"


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


def _changed_since_cutoff(wh: Warehouse) -> dict[str, int]:
    """Per table, its raw rows changed at or after its last run's cutoff: all its next run may read again.

    None, unless another session's transaction was open across the cutoff, which then waits for it.
    """
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL(
            "SELECT {name}, (SELECT count(*) FROM {raw} r, normalized_watermarks w "
            "WHERE w.table_name = {name} AND r.last_changed_at >= w.changed_since)"
        ).format(name=sql.Literal(t.name), raw=sql.Identifier(t.raw_table))
        for t in TABLES.values()
    )
    return dict(_all(wh, query))


def _pairs(wh: Warehouse, table: str, left: str, left_table: str, right: str, right_table: str) -> set[tuple[str, str]]:
    """(DoorLoop id, DoorLoop id) of each row of ``table`` linking ``left`` to ``right``, through the uuids."""
    query = sql.SQL(
        "SELECT a.doorloop_id, b.doorloop_id FROM {t} x JOIN {lt} a ON a.id = x.{l} JOIN {rt} b ON b.id = x.{r}"
    )
    return set(
        _all(
            wh,
            query.format(
                t=sql.Identifier(table),
                lt=sql.Identifier(left_table),
                l=sql.Identifier(left),
                rt=sql.Identifier(right_table),
                r=sql.Identifier(right),
            ),
        )
    )


def _dlq(wh: Warehouse) -> dict[tuple[str, str], tuple[str, str, str]]:
    rows = _all(
        wh, "SELECT entity, doorloop_id, field, message, status FROM doorloop_error_records WHERE stage = 'normalize'"
    )
    return {(e, i): (f, m, s) for e, i, f, m, s in rows}


def test_migrated_tables_are_those_of_the_spec(warehouse):
    """The tables the rendered files create (test_spec_files.py compares the files with the spec, as text)."""
    columns = defaultdict(list)
    for table, column in _all(
        warehouse,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name LIKE 'normalized%%' "
        "ORDER BY ordinal_position",
    ):
        columns[table].append(column)
    for t in TABLES.values():
        assert columns[t.name] == [
            "id",
            "doorloop_id",
            *(c.name for c in t.columns),
            "normalized_at",
            "last_run_id",
            "gone_at",
        ]
        for ch in t.children:
            assert columns[ch.name] == list(ch.all_columns)

    # every reference in the spec is a real foreign key to its target's id, and nothing else is
    foreign_keys = set(
        _all(
            warehouse,
            """
        SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
          AND c.conrelid::regclass::text LIKE 'normalized%%'""",
        )
    )
    expected = {(t.name, c.name, c.target, "id") for t in TABLES.values() for c in t.refs()}
    expected |= {(ch.name, ch.parent_column, t.name, "id") for t in TABLES.values() for ch in t.children}
    expected |= {
        (ch.name, c.name, c.target, "id")
        for t in TABLES.values()
        for ch in t.children
        for c in ch.columns
        if c.kind == "ref"
    }
    assert foreign_keys == expected
    assert len(expected) > 120


def test_small_normalizes_fully_and_a_rerun_writes_nothing(warehouse, small_dataset):
    # raw is loaded directly (test_raw covers the sync); normalize runs through the Definitions
    load_raw(warehouse, small_dataset)
    instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    first = normalize(defs, instance)
    assert first.success
    failed = [k for k, ok in first.checks.items() if not ok]
    assert not failed and len(first.checks) > 4 * len(TABLES), failed
    assert first.warnings == {}  # every optional reference found its target
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
    for lease, unit in _all(
        warehouse,
        "SELECT l.doorloop_id, u.doorloop_id FROM normalized_lease_units lu "
        "JOIN normalized_leases l ON l.id = lu.lease_id JOIN normalized_units u ON u.id = lu.unit_id",
    ):
        lease_units[lease].add(unit)
    assert lease_units == {i: set(r["units"]) for i, r in data["leases"].items()}
    assert any(len(u) > 1 for u in lease_units.values())
    lease_tenants = defaultdict(set)
    for lease, tenant in _all(
        warehouse,
        "SELECT l.doorloop_id, t.doorloop_id FROM normalized_lease_tenants lt "
        "JOIN normalized_leases l ON l.id = lt.lease_id JOIN normalized_tenants t ON t.id = lt.tenant_id",
    ):
        lease_tenants[lease].add(tenant)
    expected_tenants = defaultdict(set)
    for row in data["lease_tenants"].values():
        expected_tenants[row["lease"]].add(row["tenant"]["id"])
    assert lease_tenants == expected_tenants and any(len(t) > 1 for t in lease_tenants.values())

    # owners' percentages per property sum as in the source
    sums = dict(
        _all(
            warehouse,
            "SELECT p.doorloop_id, sum(po.ownership_percentage) FROM normalized_property_owners po "
            "JOIN normalized_properties p ON p.id = po.property_id GROUP BY 1",
        )
    )
    assert sums == {
        i: Decimal(str(sum(o["ownershipPercentage"] for o in r["owners"])))
        for i, r in data["properties"].items()
        if r.get("owners")
    }

    # typed values: money to the cent, dates as dates, real key spellings
    lease = next(iter(data["leases"].values()))
    row = _one(
        warehouse,
        "SELECT start, total_recurring_rent, eviction_pending, total_balance_due "
        "FROM normalized_leases WHERE doorloop_id = %s",
        lease["id"],
    )
    assert (row[0].isoformat(), row[1], row[2]) == (
        lease["start"],
        Decimal(str(lease["totalRecurringRent"])).quantize(Decimal("0.01")),
        lease["evictionPending"],
    )
    charge_total = _one(warehouse, "SELECT sum(amount) FROM normalized_lease_charge_lines")[0]
    assert charge_total == sum(
        Decimal(str(line["amount"])) for r in data["lease_charges"].values() for line in r["lines"]
    )
    work_order = _one(
        warehouse,
        "SELECT count(*) FROM normalized_work_orders w JOIN normalized_tasks t ON t.id = w.task_id "
        "WHERE t.type = 'WORK_ORDER' AND w.vendor_id IS NOT NULL",
    )[0]
    assert work_order == len([t for t in data["tasks"].values() if t["type"] == "WORK_ORDER"])

    # every other link is a real foreign key too: vendors' properties, lease tenants' units,
    # communication participants, polymorphic links, and references to the same table
    assert _pairs(
        warehouse,
        "normalized_vendor_properties",
        "vendor_id",
        "normalized_vendors",
        "property_id",
        "normalized_properties",
    ) == {(v, p) for v, r in data["vendors"].items() for p in r["properties"]}
    assert _pairs(
        warehouse,
        "normalized_lease_tenant_units",
        "lease_tenant_id",
        "normalized_lease_tenants",
        "unit_id",
        "normalized_units",
    ) == {(i, u) for i, r in data["lease_tenants"].items() for u in r["units"]}
    # a SYSTEM sender has no table to link to: only its DoorLoop id is kept
    participants = _all(
        warehouse,
        "SELECT c.doorloop_id, p.role, p.line_number, p.linked_to_type, coalesce(u.doorloop_id, "
        "t.doorloop_id, o.doorloop_id, CASE p.linked_to_type WHEN 'SYSTEM' THEN "
        "p.linked_to_doorloop_id END) FROM normalized_communication_participants p "
        "JOIN normalized_communications c ON c.id = p.communication_id "
        "LEFT JOIN normalized_users u ON u.id = p.user_id LEFT JOIN normalized_tenants t ON t.id = p.tenant_id "
        "LEFT JOIN normalized_owners o ON o.id = p.owner_id",
    )
    expected_participants = {
        (i, role, n + 1, who["linkedToType"], who["linkedToId"])
        for i, r in data["communications"].items()
        for role in ("from", "to", "cc", "bcc")
        if role in r
        for n, who in enumerate(r[role] if isinstance(r[role], list) else [r[role]])
    }
    assert set(participants) == expected_participants and {p[3] for p in participants} >= {"SYSTEM", "TENANT", "OWNER"}
    linked = {
        (kind, i): target
        for kind, i, target in _all(
            warehouse,
            "SELECT n.linked_resource_type, n.doorloop_id, coalesce(l.doorloop_id, t.doorloop_id, p.doorloop_id) "
            "FROM normalized_notes n LEFT JOIN normalized_leases l ON l.id = n.linked_lease_id "
            "LEFT JOIN normalized_tasks t ON t.id = n.linked_task_id "
            "LEFT JOIN normalized_properties p ON p.id = n.linked_property_id",
        )
    }
    assert linked == {
        (r["linkedResource"]["resourceType"], i): r["linkedResource"]["resourceId"] for i, r in data["notes"].items()
    }
    assert {k for k, _ in linked} == {"LEASE", "TASK", "PROPERTY"}
    assert _pairs(
        warehouse, "normalized_expenses", "id", "normalized_expenses", "pay_to_vendor_id", "normalized_vendors"
    ) == {(i, r["payToResourceId"]) for i, r in data["expenses"].items()}
    late_fees = _pairs(
        warehouse,
        "normalized_lease_charges",
        "id",
        "normalized_lease_charges",
        "late_fee_for_lease_charge_id",
        "normalized_lease_charges",
    )
    assert late_fees and late_fees == {
        (i, r["lateFeeForLeaseCharge"]) for i, r in data["lease_charges"].items() if r.get("lateFeeForLeaseCharge")
    }
    assert _pairs(warehouse, "normalized_users", "id", "normalized_users", "created_by_id", "normalized_users") == {
        (i, r["createdBy"]) for i, r in data["users"].items()
    }  # users created by users of the same batch

    # a re-run with nothing changed reads nothing and writes nothing
    before = _one(warehouse, "SELECT max(normalized_at), count(*) FROM normalized_lease_charges")
    overlap = _changed_since_cutoff(warehouse)
    second = normalize(defs, instance)
    assert set(_writes(second).values()) == {(0, 0, 0)}
    read = {k: m["candidates"] for k, m in second.materializations.items() if "candidates" in m}
    assert read and all(n <= overlap[k] for k, n in read.items()), (read, overlap)
    assert _one(warehouse, "SELECT max(normalized_at), count(*) FROM normalized_lease_charges") == before
    assert all(second.checks.values())


def served(dataset: dict[str, list], shape: str, seed: int = 0) -> dict[str, list]:
    """The dataset as ``altus sandbox serve --reference-shape SHAPE --seed SEED`` serves it."""
    return {e: [reshape(e, r, shape, seed) for r in records] for e, records in dataset.items()}


# The jsonb copies of a communication's participant lists keep the payload as sent (the
# links themselves are in normalized_communication_participants).
AS_SENT = {"normalized_communications": ("from", "to", "cc", "bcc")}


def _contents(wh: Warehouse) -> dict[str, list[str]]:
    """Every normalized row as text, sorted, less when and by which run it was written."""
    contents = {}
    with wh.connect() as conn:
        for name in ALL_OBJECTS:
            skip = ["normalized_at", "last_run_id", *AS_SENT.get(name, ())]
            cols = [
                c
                for (c,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s AND NOT column_name = ANY(%s) ORDER BY ordinal_position",
                    (name, skip),
                )
            ]
            contents[name] = conn.execute(
                sql.SQL(
                    "SELECT coalesce(array_agg(x::text ORDER BY x::text), '{{}}') FROM (SELECT {} FROM {}) x"
                ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(name))
            ).fetchone()[0]
    return contents


def test_a_reference_in_either_shape_is_the_same_reference(warehouse, small_dataset):
    load_raw(warehouse, small_dataset)
    normalize_direct(warehouse)
    before = _contents(warehouse)
    assert all(before[name] for name in ALL_OBJECTS)
    for shape, seed in (("flipped", 0), ("mixed", 7)):
        # every raw row changes (its references turn around), yet no normalized value does
        load_raw(warehouse, served(small_dataset, shape, seed))
        results = normalize_direct(warehouse)
        assert all(r.candidates for r in results.values()), shape
        writes = {
            name: (o.inserted, o.updated, o.deleted)
            for r in results.values()
            for name, o in r.objects.items()
            if o.inserted or o.updated or o.deleted
        }
        assert set(writes) <= set(AS_SENT) and all(w[0] == w[2] == 0 for w in writes.values()), (shape, writes)
        assert _contents(warehouse) == before, shape
        assert _dlq(warehouse) == {}, shape
        assert _one(warehouse, "SELECT count(*) FROM normalized_pending_references")[0] == 0, shape


def test_a_reference_object_without_an_id_is_rejected_naming_the_field(warehouse):
    prop, unit, lease, missing = "a" * 24, "b" * 24, "c" * 24, "f" * 24
    bad_unit, bad_lease, dangling_lease, ok_pay, bad_pay, blank_pay, ok_note, bad_note = (
        f"{n:024x}" for n in range(1, 9)
    )
    load_raw(
        warehouse,
        {
            "properties": [{"id": prop, "name": "Alpha"}],
            "units": [
                {"id": unit, "name": "1", "property": {"id": prop, "name": "Alpha"}},
                {"id": bad_unit, "name": "2", "property": {"name": "Alpha"}},
            ],
            "leases": [
                {"id": lease, "property": prop, "start": "2025-01-01", "units": [{"id": unit, "name": "1"}]},
                {"id": bad_lease, "property": prop, "start": "2025-01-01", "units": [unit, {"id": 7}]},
                {"id": dangling_lease, "property": {"id": prop}, "start": "2025-01-01", "units": [{"id": missing}]},
            ],
            "lease_payments": [
                {"id": ok_pay, "date": "2025-01-02", "lease": {"id": lease}, "amountReceived": 10},
                {
                    "id": bad_pay,
                    "date": "2025-01-02",
                    "lease": lease,
                    "amountReceived": 10,
                    "createdBy": {"name": "Ann"},
                },
                {"id": blank_pay, "date": "2025-01-02", "lease": {"id": " "}, "amountReceived": 10},
            ],
            "notes": [
                {
                    "id": ok_note,
                    "linkedResource": {"resourceType": "RENTAL_APPLICATION", "resourceId": {"id": missing}},
                },
                {"id": bad_note, "linkedResource": {"resourceType": "LEASE", "resourceId": {"type": "LEASE"}}},
            ],
        },
    )
    normalize_direct(warehouse)
    expected = 'is not an id (a string, or an object with a string "id")'
    dlq = {key: (field, message) for key, (field, message, _) in _dlq(warehouse).items()}
    assert dlq == {
        ("units", bad_unit): ("property", f'units {bad_unit}: property {{"name": "Alpha"}} {expected}'),
        ("leases", bad_lease): ("units[1]", f'leases {bad_lease}: units[1] {{"id": 7}} {expected}'),
        ("leases", dangling_lease): (
            "units[0]",
            f"leases {dangling_lease}: units[0] {missing}: no such units record (missing, or itself rejected)",
        ),
        ("lease_payments", bad_pay): ("createdBy", f'lease_payments {bad_pay}: createdBy {{"name": "Ann"}} {expected}'),
        ("lease_payments", blank_pay): ("lease", f"lease_payments {blank_pay}: required field lease is missing"),
        ("notes", bad_note): (
            "linkedResource.resourceId",
            f'notes {bad_note}: linkedResource.resourceId {{"type": "LEASE"}} {expected}',
        ),
    }
    # the same references as objects load like bare ids
    assert _pairs(warehouse, "normalized_units", "id", "normalized_units", "property_id", "normalized_properties") == {
        (unit, prop)
    }
    assert _pairs(
        warehouse, "normalized_lease_units", "lease_id", "normalized_leases", "unit_id", "normalized_units"
    ) == {(lease, unit)}
    assert _pairs(
        warehouse, "normalized_lease_payments", "id", "normalized_lease_payments", "lease_id", "normalized_leases"
    ) == {(ok_pay, lease)}
    assert _all(warehouse, "SELECT doorloop_id, linked_resource_doorloop_id FROM normalized_notes") == [
        (ok_note, missing)
    ]


@pytest.fixture
def dirty(small_dataset):
    """The small dataset with three bad records, plus PII planted in raw."""
    data = copy.deepcopy(small_dataset)
    prop = data["properties"][0]
    prop["createdAt"] = "2024-02-30T10:00:00Z"
    lease = next(x for x in data["leases"] if x["property"] != prop["id"] and len(x["units"]) == 1)
    missing_unit = "f" * 24
    lease["units"] = [*lease["units"], missing_unit]
    payment = next(p for p in data["lease_payments"] if p["lease"] != lease["id"])
    payment["amountReceived"] = "two hundred"
    pii = {
        "ssn": "123-45-6789",
        "driversLicense": "D1234-5678-PII",
        "bankAccountNumber": "000123456789",
        "screeningId": "SCR-PII-0042",
        "cardNumber": "4111111111111111",
    }
    data["tenants"][0].update(pii, taxpayerId="987-65-4321")
    data["users"][0]["bankAccounts"] = [{"accountNumber": "998877665544", "routingNumber": "021000021"}]
    data["lease_payments"][1]["checkInfo"] = {"accountNumber": "556677889900", "routingNumber": "021000089"}
    return {
        "data": data,
        "prop": prop,
        "lease": lease,
        "missing_unit": missing_unit,
        "payment": payment,
        "pii": [*pii.values(), "987-65-4321", "998877665544", "556677889900"],
    }


def test_bad_records_go_to_the_dlq_and_resolve_when_fixed(warehouse, dirty):
    data = dirty["data"]
    load_raw(warehouse, data)
    first = run_normalize(warehouse)
    assert all(first.checks.values()), [k for k, ok in first.checks.items() if not ok]
    dlq = _dlq(warehouse)
    prop, lease, payment = dirty["prop"], dirty["lease"], dirty["payment"]
    # rows that merely mention the rejected property load, and their links wait (a warning, not a failure)
    waiting = first.warnings["normalized_portfolios:references_resolved"]
    assert (
        waiting["unresolved"] == 1
        and prop["id"] in waiting["normalized_portfolio_properties.property_id -> normalized_properties"]
    )
    assert "normalized_notes:references_resolved" in first.warnings
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
    new_unit = {
        **copy.deepcopy(next(u for u in data["units"] if u["property"] == lease["property"])),
        "id": dirty["missing_unit"],
        "name": "Annex",
    }
    payment["amountReceived"] = "200.005"
    prop["createdAt"] = "2024-02-28T10:00:00Z"
    data["units"].append(new_unit)
    load_raw(warehouse, data)
    fixed = run_normalize(warehouse)
    assert all(fixed.checks.values()) and fixed.warnings == {}, fixed.warnings
    dlq = _dlq(warehouse)
    assert dlq and all(status == "resolved" for _, _, status in dlq.values()), dlq
    units = {
        u
        for (u,) in _all(
            warehouse,
            "SELECT u.doorloop_id FROM normalized_lease_units lu JOIN normalized_leases l "
            "ON l.id = lu.lease_id JOIN normalized_units u ON u.id = lu.unit_id "
            "WHERE l.doorloop_id = %s",
            lease["id"],
        )
    }
    assert units == set(lease["units"])
    assert _one(
        warehouse, "SELECT amount_received FROM normalized_lease_payments WHERE doorloop_id = %s", payment["id"]
    )[0] == Decimal("200.01")
    portfolio = next(r for r in data["portfolios"] if prop["id"] in r["properties"])
    assert (portfolio["id"], prop["id"]) in _pairs(
        warehouse,
        "normalized_portfolio_properties",
        "portfolio_id",
        "normalized_portfolios",
        "property_id",
        "normalized_properties",
    )
    assert fixed.materializations["normalized_units"]["candidates"] >= 1
    assert fixed.materializations["normalized_tenants"]["candidates"] == 0  # untouched entities read nothing


def test_soft_deleted_rows_leave_with_their_junction_rows(warehouse, small_dataset):
    load_raw(warehouse, small_dataset)
    normalize_direct(warehouse)
    lease = next(x for x in small_dataset["leases"] if len(x["units"]) > 1)
    key = key_of("leases", lease["id"])
    assert _one(warehouse, "SELECT count(*) FROM normalized_lease_units WHERE lease_id = %s", key)[0] == len(
        lease["units"]
    )
    with warehouse.connect() as conn:
        conn.execute("UPDATE doorloop_raw_leases SET deleted_at = now() WHERE id = %s", (lease["id"],))
        conn.commit()
    results = normalize_direct(warehouse)
    assert results["normalized_leases"].metadata("normalized_leases")["soft_deleted"] == 1
    # marked gone while its charges still point at it; deleted once their run has let go of it
    assert _one(warehouse, "SELECT count(*) FROM normalized_leases WHERE id = %s AND gone_at IS NULL", key)[0] == 0
    assert _one(warehouse, "SELECT count(*) FROM normalized_lease_units WHERE lease_id = %s", key)[0] == 0
    normalize_direct(warehouse)
    assert _one(warehouse, "SELECT count(*) FROM normalized_leases WHERE id = %s", key)[0] == 0
    # its transactions now dangle: rejected to the DLQ, and the checks still reconcile
    charges = {c["id"] for c in small_dataset["lease_charges"] if c["lease"] == lease["id"]}
    dlq = _dlq(warehouse)
    assert charges and all(dlq[("lease_charges", c)][0] == "lease" for c in charges)
    for t in TABLES.values():
        live, rows, in_dlq = _one(warehouse, reconciliation_sql(t))
        assert live == rows + in_dlq, t.name


def _soft_delete(wh: Warehouse, raw_table: str, doorloop_id: str, deleted: bool = True) -> None:
    with wh.connect() as conn:
        conn.execute(
            sql.SQL(
                "UPDATE {} SET deleted_at = CASE WHEN %s THEN now() END, last_changed_at = now() WHERE id = %s"
            ).format(sql.Identifier(raw_table)),
            (deleted, doorloop_id),
        )
        conn.commit()


def _pending(wh: Warehouse, table: str) -> set[tuple[str, str, str]]:
    return set(
        _all(
            wh,
            "SELECT doorloop_id, column_name, target_doorloop_id FROM normalized_pending_references "
            "WHERE table_name = %s",
            table,
        )
    )


@pytest.mark.parametrize("shape", ["as-generated", "flipped"])
def test_links_wait_for_late_targets_and_return_with_them(warehouse, small_dataset, shape):
    data = copy.deepcopy(small_dataset)
    accounts = data["accounts"]
    late_parent = {**copy.deepcopy(accounts[0]), "id": "a" * 24, "name": "Late parent"}
    accounts[1]["parentAccount"] = late_parent["id"]  # arrives later
    accounts[2]["parentAccount"] = accounts[0]["id"]  # in the same batch
    load_raw(warehouse, served(data, shape))
    first = normalize_direct(warehouse)["normalized_accounts"]
    parents = _pairs(
        warehouse, "normalized_accounts", "id", "normalized_accounts", "parent_account_id", "normalized_accounts"
    )
    assert parents == {(accounts[2]["id"], accounts[0]["id"])}
    assert _pending(warehouse, "normalized_accounts") == {(accounts[1]["id"], "parent_account_id", late_parent["id"])}
    assert (first.warnings, first.unresolved_references) == (1, 1)
    # links to a target of the same batch count as resolved, whether made before or after the upsert
    ids = {a["id"] for a in accounts}
    assert first.references_resolved == sum(reference_id(a.get("parentAccount")) in ids for a in accounts) >= 1

    # the parent arrives: the waiting account is linked in the same run, without re-reading it
    load_raw(warehouse, served({"accounts": [*accounts, late_parent]}, shape))
    second = normalize_direct(warehouse)["normalized_accounts"]
    assert (second.candidates, second.references_resolved, second.unresolved_references) == (1, 1, 0)
    assert (accounts[1]["id"], late_parent["id"]) in _pairs(
        warehouse, "normalized_accounts", "id", "normalized_accounts", "parent_account_id", "normalized_accounts"
    )

    # a user leaves: every link to them is kept NULL and recorded; when they return, all come back
    snapshot = "SELECT doorloop_id, created_by_id, updated_by_id FROM normalized_leases ORDER BY 1"
    before = _all(warehouse, snapshot)
    user = data["leases"][0]["updatedBy"]
    uses = [r["id"] for r in data["leases"] if r["updatedBy"] == user]
    _soft_delete(warehouse, "doorloop_raw_users", user)
    normalize_direct(warehouse)
    assert _one(warehouse, "SELECT count(*) FROM normalized_leases WHERE updated_by_id IS NULL")[0] >= len(uses)
    assert {(i, "updated_by_id", user) for i in uses} <= _pending(warehouse, "normalized_leases")
    _soft_delete(warehouse, "doorloop_raw_users", user, deleted=False)
    returned = normalize_direct(warehouse)
    assert _all(warehouse, snapshot) == before
    assert returned["normalized_leases"].candidates >= len(uses) and _pending(warehouse, "normalized_leases") == set()

    # a unit leaves: the lease whose unit list names it is re-checked and waits in the DLQ (its
    # lease tenants with it); when the unit returns, both load again
    lease = next(r for r in data["leases"] if len(r["units"]) == 1)
    unit = lease["units"][0]
    _soft_delete(warehouse, "doorloop_raw_units", unit)
    normalize_direct(warehouse)
    dlq = _dlq(warehouse)
    assert dlq[("leases", lease["id"])][0] == "units[0]" and unit in dlq[("leases", lease["id"])][1]
    tenant_rows = [r["id"] for r in data["lease_tenants"] if r["lease"] == lease["id"]]
    assert tenant_rows and all(dlq[("lease_tenants", i)][0] == "lease" for i in tenant_rows)
    for t in TABLES.values():
        live, rows, in_dlq = _one(warehouse, reconciliation_sql(t))
        assert live == rows + in_dlq, t.name
    _soft_delete(warehouse, "doorloop_raw_units", unit, deleted=False)
    normalize_direct(warehouse)
    assert all(status == "resolved" for (_, _, status) in _dlq(warehouse).values())
    assert (lease["id"], unit) in _pairs(
        warehouse, "normalized_lease_units", "lease_id", "normalized_leases", "unit_id", "normalized_units"
    )
    assert _one(warehouse, "SELECT count(*) FROM normalized_pending_references")[0] == 0

    # and with everything settled, a re-run reads again at most the raw rows changed since the
    # previous run's cutoff, resolves nothing and writes nothing
    overlap = _changed_since_cutoff(warehouse)
    settled = normalize_direct(warehouse)
    beyond = {
        name: (r.candidates, r.references_resolved, overlap[name])
        for name, r in settled.items()
        if r.candidates > overlap[name] or r.references_resolved
    }
    assert beyond == {}, "(read, resolved, changed since the cutoff)"
    assert all(not (o.inserted or o.updated or o.deleted) for r in settled.values() for o in r.objects.values())


def test_pii_in_raw_never_reaches_a_normalized_table(warehouse, dirty):
    load_raw(warehouse, dirty["data"])
    normalize_direct(warehouse)
    names = [
        c
        for (c,) in _all(
            warehouse,
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name LIKE 'normalized%%' "
            "AND column_name ~ %s",
            PII_COLUMN,
        )
    ]
    assert names == []
    raw_text = _one(warehouse, "SELECT string_agg(payload::text, ' ') FROM doorloop_raw_tenants")[0]
    assert dirty["pii"][0] in raw_text  # present in raw ...
    with warehouse.connect() as conn:
        for name in ALL_OBJECTS:
            text = conn.execute(
                sql.SQL("SELECT coalesce(string_agg(t::text, ' '), '') FROM {} t").format(sql.Identifier(name))
            ).fetchone()[0]
            leaked = [v for v in dirty["pii"] if v in text]
            assert not leaked, (name, leaked)  # ... absent from every normalized row


def test_a_retried_normalize_failure_that_fails_again_counts_attempts_until_dead(warehouse, dirty, monkeypatch):
    from altus_pipeline.dlq.statements import request_retry

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
