"""The synthetic DoorLoop account: deterministic, complete, consistent and shaped like DoorLoop."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES, export, generate, generate_dataset

AS_OF = DEFAULT_AS_OF.isoformat()
ID = re.compile(r"^[0-9a-f]{24}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP_KEYS = {"createdAt", "updatedAt", "completedAt", "sentAt", "lastSeenAt"}
DATE_KEYS = {
    "date",
    "dueDate",
    "start",
    "end",
    "moveInAt",
    "moveOutAt",
    "moveOutNoticeAt",
    "managementStartDate",
    "managementEndDate",
    "dateOfBirth",
    "reversedPaymentDate",
    "expectedMoveInDate",
    "effectiveDate",
    "expirationDate",
}
MONEY_KEYS = {
    "amount",
    "totalAmount",
    "amountReceived",
    "marketRent",
    "totalRecurringRent",
    "totalDepositsHeld",
    "totalBalanceDue",
}

#: (entity, path to the reference, target entity, optional). ``[]`` walks a list.
FOREIGN_KEYS = [
    ("units", "property", "properties", False),
    ("leases", "property", "properties", False),
    ("leases", "units[]", "units", False),
    ("lease_tenants", "lease", "leases", False),
    ("lease_tenants", "tenant.id", "tenants", False),
    ("lease_tenants", "property", "properties", False),
    ("lease_tenants", "units[]", "units", False),
    ("lease_charges", "lease", "leases", False),
    ("lease_charges", "lines[].account", "accounts", False),
    ("lease_charges", "lateFeeForLeaseCharge", "lease_charges", True),
    ("lease_credits", "lease", "leases", False),
    ("lease_credits", "lines[].account", "accounts", False),
    ("lease_payments", "lease", "leases", False),
    ("lease_payments", "depositToAccount", "accounts", False),
    ("lease_payments", "receivedFromTenant", "tenants", False),
    ("lease_payments", "reversedPayment", "lease_reversed_payments", True),
    ("lease_reversed_payments", "lease", "leases", False),
    ("lease_reversed_payments", "leasePayment", "lease_payments", False),
    ("lease_reversed_payments", "lines[].account", "accounts", False),
    ("tasks", "property", "properties", True),
    ("tasks", "unit", "units", True),
    ("tasks", "assignedToUsers[]", "users", True),
    ("tasks", "requestedByTenant", "tenants", True),
    ("tasks", "requestedByOwner", "owners", True),
    ("tasks", "requestedByUser", "users", True),
    ("tasks", "workOrder.assignedToVendor", "vendors", True),
    ("tasks", "workOrder.vendorBill", "vendor_bills", True),
    ("properties", "owners[].owner", "owners", False),
    ("portfolios", "properties[]", "properties", False),
    ("owners", "properties[]", "properties", True),
    ("vendors", "properties[]", "properties", True),
    ("vendor_bills", "vendor", "vendors", False),
    ("vendor_bills", "workOrder", "tasks", True),
    ("vendor_bills", "lines[].account", "accounts", False),
    ("vendor_bills", "lines[].linkedToResourceId", "properties", False),
    ("vendor_credits", "vendor", "vendors", False),
    ("vendor_credits", "lines[].account", "accounts", False),
    ("vendor_credits", "lines[].linkedToResourceId", "properties", False),
    ("expenses", "payFromAccount", "accounts", False),
    ("expenses", "payToResourceId", "vendors", False),
    ("expenses", "lines[].account", "accounts", False),
    ("expenses", "lines[].linkedToResourceId", "properties", False),
]
LINKED_TYPES = {
    "LEASE": "leases",
    "TASK": "tasks",
    "PROPERTY": "properties",
    "TENANT": "tenants",
    "OWNER": "owners",
    "USER": "users",
    "VENDOR": "vendors",
}


@pytest.fixture(scope="module")
def small() -> dict[str, list[dict]]:
    return generate_dataset("small", seed=0)


@pytest.fixture(scope="module")
def by_id(small: dict[str, list[dict]]) -> dict[str, dict[str, dict]]:
    return {name: {r["id"]: r for r in records} for name, records in small.items()}


def _refs(value: Any, path: str) -> Iterator[Any]:
    """The values at a dotted path; ``key[]`` fans out over a list; missing keys give None."""
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    value = value.get(head.removesuffix("[]")) if isinstance(value, dict) else None
    for item in (value or []) if many else [value]:
        if rest:
            yield from _refs(item, rest)
        else:
            yield item


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _day(stamp: str) -> str:
    return stamp[:10]


def _cents(amount: float) -> int:
    return int(Decimal(str(amount)) * 100)


def test_export_is_deterministic_per_seed(tmp_path: Path) -> None:
    first = export(tmp_path / "a", "small", seed=0)
    again = export(tmp_path / "b", "small", seed=0)
    export(tmp_path / "c", "small", seed=1)
    assert first == again
    for name in ENTITIES:
        content = (tmp_path / "a" / f"{name}.json").read_bytes()
        assert content == (tmp_path / "b" / f"{name}.json").read_bytes(), name
        assert len(json.loads(content)) == first[name]
    for name in ("leases", "lease_payments"):
        assert (tmp_path / "a" / f"{name}.json").read_bytes() != (tmp_path / "c" / f"{name}.json").read_bytes()


def test_export_matches_generated_records(tmp_path: Path, small: dict[str, list[dict]]) -> None:
    export(tmp_path, "small", seed=0)
    for name in ENTITIES:
        assert json.loads((tmp_path / f"{name}.json").read_text()) == small[name], name


def test_output_does_not_depend_on_reading_order(small: dict[str, list[dict]]) -> None:
    """Streams are replayed from their own RNGs, so reading entities backwards changes nothing."""
    streams = list(generate("small", seed=0))
    backwards = {name: list(records) for name, records in reversed(streams)}
    assert backwards == small


def test_every_registry_entity_is_generated_with_records(small: dict[str, list[dict]]) -> None:
    assert [name for name, _ in generate("small")] == list(ENTITIES)
    assert list(small) == list(ENTITIES)
    assert all(small[name] for name in ENTITIES), [name for name in ENTITIES if not small[name]]


def test_unknown_scale_is_rejected() -> None:
    with pytest.raises(KeyError, match="huge"):
        generate("huge")


@pytest.mark.parametrize("entity_name, path, target, optional", FOREIGN_KEYS)
def test_foreign_key_resolves(small, by_id, entity_name: str, path: str, target: str, optional: bool) -> None:
    found = 0
    for record in small[entity_name]:
        for ref in _refs(record, path):
            if ref is None:
                assert optional, f"{entity_name} {record['id']}: {path} is missing"
                continue
            assert ref in by_id[target], f"{entity_name} {record['id']}: {path}={ref} not in {target}"
            found += 1
    assert found, f"no {entity_name}.{path} references at all"


def test_audit_users_and_linked_resources_resolve(small, by_id) -> None:
    for name, records in small.items():
        for record in records:
            for key in ("createdBy", "updatedBy"):
                if key in record:
                    assert record[key] in by_id["users"], (name, key)
    for name in ("notes", "files"):
        for record in small[name]:
            link = record["linkedResource"]
            assert link["resourceId"] in by_id[LINKED_TYPES[link["resourceType"]]], (name, link)
    for message in small["communications"]:
        for party in [message["from"], *message["to"]]:
            if party["linkedToType"] != "SYSTEM":
                assert party["linkedToId"] in by_id[LINKED_TYPES[party["linkedToType"]]], party


def test_every_communication_participant_carries_a_linked_to_id(small, by_id) -> None:
    """DoorLoop's spec requires ``linkedToId``; a client generated from it rejects a null.

    The system sender has one id of its own, the same on every message, naming no record.
    """
    parties = [
        p
        for m in small["communications"]
        for role in ("from", "to", "cc", "bcc")
        for p in (m.get(role) if isinstance(m.get(role), list) else [m.get(role)])
        if p is not None
    ]
    assert [p for p in parties if not (isinstance(p.get("linkedToId"), str) and ID.match(p["linkedToId"]))] == []
    system = {p["linkedToId"] for p in parties if p["linkedToType"] == "SYSTEM"}
    assert len(system) == 1 and not system & {i for records in by_id.values() for i in records}


def test_references_agree_with_each_other(small, by_id) -> None:
    """A lease's units are on its property; its tenant rows and payments name its own tenants."""
    tenants_of = defaultdict(set)
    for row in small["lease_tenants"]:
        lease = by_id["leases"][row["lease"]]
        assert (row["property"], row["units"]) == (lease["property"], lease["units"])
        tenants_of[row["lease"]].add(row["tenant"]["id"])
    for lease in small["leases"]:
        assert {by_id["units"][u]["property"] for u in lease["units"]} == {lease["property"]}
        assert lease["id"] in tenants_of
    for payment in small["lease_payments"]:
        assert payment["receivedFromTenant"] in tenants_of[payment["lease"]]
        assert by_id["accounts"][payment["depositToAccount"]]["type"] == "ASSET_BANK"
        if "reversedPayment" in payment:
            reversal = by_id["lease_reversed_payments"][payment["reversedPayment"]]
            assert (reversal["leasePayment"], reversal["lease"]) == (payment["id"], payment["lease"])
    for task in small["tasks"]:
        if task["unit"] is not None:
            assert by_id["units"][task["unit"]]["property"] == task["property"]
        bill_id = (task.get("workOrder") or {}).get("vendorBill")
        if bill_id:
            assert by_id["vendor_bills"][bill_id]["workOrder"] == task["id"]
    for expense in small["expenses"]:
        assert by_id["accounts"][expense["payFromAccount"]]["type"] == "ASSET_BANK"


def test_ownership_percentages_sum_to_100(small) -> None:
    for prop in small["properties"]:
        assert prop["owners"], prop["id"]
        assert sum(o["ownershipPercentage"] for o in prop["owners"]) == 100, prop["owners"]
        owners = [o["owner"] for o in prop["owners"]]
        assert len(set(owners)) == len(owners), "an owner listed twice on one property"
    assert any(len(prop["owners"]) > 1 for prop in small["properties"]), "co-owned property"


def test_every_property_is_in_exactly_one_portfolio(small) -> None:
    members = Counter(p for portfolio in small["portfolios"] for p in portfolio["properties"])
    assert sorted(members) == sorted(p["id"] for p in small["properties"])
    assert set(members.values()) == {1}


def _shape_ok(key: str, value: Any) -> bool | None:
    """Whether a value has its key's DoorLoop shape; None for keys without a pinned shape."""
    if key == "id":
        return isinstance(value, str) and bool(ID.match(value))
    if key in TIMESTAMP_KEYS:
        return bool(TIMESTAMP.match(value)) and datetime.fromisoformat(value[:-1]) is not None
    if key in DATE_KEYS:
        return bool(DAY.match(value)) and date.fromisoformat(value) is not None
    if key in MONEY_KEYS:
        return isinstance(value, (int, float)) and round(value, 2) == value
    return None


def test_record_shapes(small) -> None:
    """24-hex ids (also of lines and embedded tenants), ISO timestamps with ms, YYYY-MM-DD dates, cents."""
    checked = Counter()
    for name, records in small.items():
        for record in records:
            for key, value in _walk(record):
                if value is not None and (ok := _shape_ok(key, value)) is not None:
                    assert ok, (name, key, value)
                    checked[key] += 1
    assert {"id"} | TIMESTAMP_KEYS | DATE_KEYS | MONEY_KEYS <= set(checked)
    ids = Counter(record["id"] for records in small.values() for record in records)
    assert [i for i, n in ids.items() if n > 1] == []


def test_nothing_is_timestamped_after_as_of(small) -> None:
    for name, records in small.items():
        for record in records:
            for key in ("createdAt", "updatedAt", "completedAt", "sentAt"):
                if record.get(key):
                    assert _day(record[key]) <= AS_OF, (name, key, record[key])


def test_the_newest_edits_are_spread_over_time_as_an_accounts_are(small) -> None:
    """Edits are not piled up on as_of's last moment: a daily run sorted by ``updatedAt`` stops
    after its first page only when few records share the newest minutes, as in a real account."""
    for name, records in small.items():
        stamped = [r for r in records if r.get("updatedAt")]
        if not stamped:
            continue
        newest = max(r["updatedAt"] for r in stamped)
        assert sum(r["updatedAt"] == newest for r in stamped) == 1, (name, newest)
        assert all(r["createdAt"] <= r["updatedAt"] for r in stamped if r.get("createdAt")), name


@pytest.mark.parametrize("as_of", [DEFAULT_AS_OF, date(2025, 6, 15)])
def test_partitioned_records_carry_their_date_within_the_window(as_of: date) -> None:
    data = generate_dataset("small", seed=3, as_of=as_of)
    first = as_of.replace(year=as_of.year - SCALES["small"].years).isoformat()
    for entity in ENTITIES.values():
        if not entity.partitioned:
            continue
        values = [record[entity.date_field] for record in data[entity.name]]
        assert values and all(values), entity.name
        days = {_day(value) for value in values}
        assert first <= min(days) and max(days) <= as_of.isoformat(), (entity.name, min(days), max(days))


def test_lease_balance_is_the_sum_of_its_transactions(small) -> None:
    """totalBalanceDue = charges - credits - payments + reversed payments (KPI contract)."""
    balance = Counter()
    for name, sign in (("lease_charges", 1), ("lease_credits", -1), ("lease_reversed_payments", 1)):
        for record in small[name]:
            assert _cents(record["totalAmount"]) == sum(_cents(line["amount"]) for line in record["lines"])
            balance[record["lease"]] += sign * _cents(record["totalAmount"])
    for payment in small["lease_payments"]:
        balance[payment["lease"]] -= _cents(payment["amountReceived"])
    for lease in small["leases"]:
        assert _cents(lease["totalBalanceDue"]) == balance[lease["id"]], lease["id"]


def test_small_scale_size(small) -> None:
    assert len(small["properties"]) == 10
    assert len(small["units"]) == 100
    assert 150 <= len(small["leases"]) <= 600
    rent = [c for c in small["lease_charges"] if c["memo"] == "Monthly rent"]
    assert 100 * 24 * 0.75 <= len(rent) <= 100 * 25
    assert len(small["lease_payments"]) >= len(rent) * 0.8


def test_small_data_has_the_interesting_cases(small) -> None:
    leases = small["leases"]
    tenants_per_lease = Counter(row["lease"] for row in small["lease_tenants"])
    wo = [t for t in small["tasks"] if t["type"] == "WORK_ORDER"]

    def hours(task: dict) -> float:
        opened, done = (datetime.fromisoformat(task[k][:-1]) for k in ("createdAt", "completedAt"))
        return (done - opened) / timedelta(hours=1)

    assert any(len(lease["units"]) > 1 for lease in leases), "multi-unit lease"
    assert any(n > 1 for n in tenants_per_lease.values()), "multi-tenant lease"
    assert any(not unit["active"] for unit in small["units"]), "inactive unit"
    assert any(unit["marketRent"] is None for unit in small["units"]), "unit without market rent"
    assert any(lease["term"] == "AtWill" and lease["end"] is None for lease in leases), "at-will lease without end"
    assert any(lease["start"] > AS_OF for lease in leases), "future lease"
    assert any(lease["status"] == "INACTIVE" for lease in leases), "past lease"
    assert any(lease["status"] == "ACTIVE" and lease["term"] == "Fixed" and lease["end"] < AS_OF for lease in leases), (
        "holdover past its end"
    )
    assert any(
        lease["status"] == "ACTIVE" and lease["start"] <= AS_OF and lease["totalBalanceDue"] > 0 for lease in leases
    ), "delinquent current lease"
    assert {row["status"] for row in small["lease_tenants"]} == {"PAST", "CURRENT", "FUTURE"}
    assert small["lease_reversed_payments"], "reversed payment"
    assert any("lateFeeForLeaseCharge" in charge for charge in small["lease_charges"]), "late fee"
    assert any(t["completedAt"] and hours(t) <= 24 for t in wo), "work order done within 24h"
    assert any(t["completedAt"] and hours(t) > 24 for t in wo), "work order done after a day"
    assert any(t["completedAt"] is None and t["status"] != "ARCHIVED" for t in wo), "open work order"
    assert any(t["workOrder"]["vendorBill"] for t in wo), "billed work order"
    assert any(t["property"] is None for t in small["tasks"]), "task of no property"
    assert {t["type"] for t in small["tenants"]} == {"LEASE_TENANT", "PROSPECT_TENANT"}
    assert all(o["federalTaxInfo"]["taxpayerId"] for o in small["owners"]), "owner PII to drop"


def test_medium_scale_counts_and_references() -> None:
    data = generate_dataset("medium", seed=0)
    scale = SCALES["medium"]
    assert (len(data["properties"]), len(data["units"])) == (scale.properties, scale.units)
    assert len(data["users"]) == scale.users and len(data["owners"]) == scale.owners
    months = scale.years * 12
    rent = sum(1 for c in data["lease_charges"] if c["memo"] == "Monthly rent")
    assert scale.units * months * 0.75 <= rent <= scale.units * (months + 1)
    assert 3_000 <= len(data["leases"]) <= 15_000
    assert all(sum(o["ownershipPercentage"] for o in p["owners"]) == 100 for p in data["properties"])
    unit_ids = {u["id"] for u in data["units"]}
    lease_ids = {lease["id"] for lease in data["leases"]}
    assert all(set(lease["units"]) <= unit_ids for lease in data["leases"])
    for name in ("lease_charges", "lease_credits", "lease_payments", "lease_reversed_payments"):
        assert all(record["lease"] in lease_ids for record in data[name]), name
