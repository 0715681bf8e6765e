"""The DoorLoop sandbox over real HTTP: envelope, paging, filters, auth, limits and faults.

Datasets are small and hand-made so each expectation can be checked by eye and the tests
do not depend on the data generator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.sandbox.faults import FaultRate, FaultSpec
from altus_pipeline.sandbox.filters import FILTERS
from altus_pipeline.sandbox.server import RateLimiter, Sandbox, SandboxConfig
from altus_pipeline.sandbox.shapes import reference_id
from altus_pipeline_tests.conftest import TOKEN

AUTH = {"Authorization": f"bearer {TOKEN}"}
UNLIMITED = SandboxConfig(token=TOKEN, rate_limit_per_minute=None, rate_limit_per_hour=None)

Factory = Callable[..., Sandbox]  # conftest.sandbox_factory: (dataset, **SandboxConfig options)


def hex_id(n: int) -> str:
    return f"{n:024x}"


def numbered(count: int) -> list[dict[str, Any]]:
    return [{"id": hex_id(i), "name": f"record {i}", "amount": float(i), "date": "2024-01-01"} for i in range(count)]


def faulty(spec: str, seed: int = 7) -> dict[str, Any]:
    """Sandbox options injecting ``spec`` with a fixed seed."""
    return {"faults": FaultSpec.parse(spec), "seed": seed}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get(
    http: requests.Session, sandbox: Sandbox, path: str, headers: dict[str, str] = AUTH, **params: Any
) -> requests.Response:
    return http.get(sandbox.base_url + path, params=params, headers=headers, timeout=10)


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]]


# --- envelope and paging -------------------------------------------------------------------------


@pytest.mark.parametrize("total", [0, 1, 999, 1000, 1001, 2500])
@pytest.mark.parametrize("page_size", [1000, None])
def test_paging_walks_every_record_once_with_a_stable_total(
    sandbox_factory: Factory, http: requests.Session, total: int, page_size: int | None
) -> None:
    records = numbered(total)
    sandbox = sandbox_factory({"expenses": records})
    size = page_size or 50
    params = {} if page_size is None else {"page_size": page_size}
    collected: list[str] = []
    for page in range(1, total // size + 2):
        body = get(http, sandbox, "/expenses", page_number=page, **params).json()
        assert body["total"] == total
        assert len(body["data"]) == min(size, total - len(collected))
        collected += [r["id"] for r in body["data"]]
    assert collected == [r["id"] for r in records]
    beyond = get(http, sandbox, "/expenses", page_number=total // size + 5, **params).json()
    assert beyond == {"total": total, "data": []}


def test_page_number_defaults_to_the_first_page(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"expenses": numbered(120)})
    assert ids(get(http, sandbox, "/expenses")) == [hex_id(i) for i in range(50)]


@pytest.mark.parametrize(
    ("params", "expected_len"),
    [
        ({"page_size": 0}, 1),
        ({"page_size": -4}, 1),
        ({"page_size": 5000}, 1000),
        ({"page_number": 0, "page_size": 2}, 2),
    ],
)
def test_page_size_is_clamped_to_1_through_1000(
    sandbox_factory: Factory, http: requests.Session, params: dict[str, int], expected_len: int
) -> None:
    sandbox = sandbox_factory({"expenses": numbered(1200)})
    body = get(http, sandbox, "/expenses", **params).json()
    assert body["total"] == 1200
    assert len(body["data"]) == expected_len
    assert body["data"][0]["id"] == hex_id(0)


@pytest.mark.parametrize("params", [{"page_size": "ten"}, {"page_number": "2.5"}, {"sort_descending": "yes"}])
def test_unreadable_paging_or_sort_params_answer_400_json(
    sandbox_factory: Factory, http: requests.Session, params: dict[str, str]
) -> None:
    response = get(http, sandbox_factory({"expenses": numbered(3)}), "/expenses", **params)
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert next(iter(params)) in response.json()["message"]


def test_single_get_returns_the_bare_record(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"expenses": numbered(3)})
    assert get(http, sandbox, f"/expenses/{hex_id(1)}").json() == numbered(3)[1]


STAFF = [{"id": "us1", "active": False}, {"id": "us2", "active": True}, {"id": "us3", "active": True, "owner": True}]


def test_users_me_is_the_user_owning_the_key(sandbox_factory: Factory, http: requests.Session, tmp_path: Path) -> None:
    """DoorLoop answers ``/users/me`` with the key's creator: the account owner, else the first active user."""
    assert get(http, sandbox_factory({"users": STAFF}), "/users/me").json() == STAFF[2]
    assert get(http, sandbox_factory({"users": STAFF[:2]}), "/users/me").json() == STAFF[1]
    (tmp_path / "users.json").write_text(json.dumps(STAFF), encoding="utf-8")
    with Sandbox.from_directory(tmp_path, UNLIMITED) as replayed:
        assert get(http, replayed, "/users/me").json() == STAFF[2]
    nobody = get(http, sandbox_factory({}), "/users/me")
    assert (nobody.status_code, nobody.json()["code"]) == (404, "NOT_FOUND")


def test_users_me_keeps_auth_role_and_rate_limits(sandbox_factory: Factory, http: requests.Session) -> None:
    limited = sandbox_factory({"users": STAFF}, rate_limit_per_minute=1)
    assert get(http, limited, "/users/me", headers={"Authorization": "bearer wrong"}).status_code == 401
    assert get(http, limited, "/users/me").status_code == 200
    assert get(http, limited, "/users/me").status_code == 429
    denied = sandbox_factory({"users": STAFF}, denied_paths=frozenset({"/users"}))
    assert get(http, denied, "/users/me").status_code == 405


# --- sorting -------------------------------------------------------------------------------------

SORTABLE = [
    {"id": "a", "rank": 2},
    {"id": "b"},
    {"id": "c", "rank": 1},
    {"id": "d", "rank": 2},
    {"id": "e", "rank": "12,50 USD"},
]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["a", "b", "c", "d", "e"]),
        ({"sort_by": "rank"}, ["b", "c", "a", "d", "e"]),
        ({"sort_by": "rank", "sort_descending": "false"}, ["b", "c", "a", "d", "e"]),
        ({"sort_by": "rank", "sort_descending": "true"}, ["e", "a", "d", "c", "b"]),
        ({"sort_by": "rank", "sort_descending": "TRUE"}, ["e", "a", "d", "c", "b"]),
        ({"sort_by": "id", "sort_descending": "true"}, ["e", "d", "c", "b", "a"]),
    ],
)
def test_sort_is_stable_and_puts_records_without_the_field_first(
    sandbox_factory: Factory, http: requests.Session, params: dict[str, str], expected: list[str]
) -> None:
    assert ids(get(http, sandbox_factory({"accounts": SORTABLE}), "/accounts", **params)) == expected


def test_sort_applies_before_paging(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"accounts": SORTABLE})
    assert ids(get(http, sandbox, "/accounts", sort_by="rank", page_size=2, page_number=2)) == ["a", "d"]


# --- filters ---------------------------------------------------------------------------------------

PROPERTIES = [
    {
        "id": "p1",
        "name": "Maple Court",
        "class": "RESIDENTIAL",
        "owners": [{"owner": "o1", "ownershipPercentage": 60}, {"owner": "o2", "ownershipPercentage": 40}],
    },
    {"id": "p2", "name": "Oak Plaza", "class": "COMMERCIAL", "owners": [{"owner": "o2", "ownershipPercentage": 100}]},
    {"id": "p3", "name": "Pine House", "class": "RESIDENTIAL", "owners": [{"owner": "o3", "ownershipPercentage": 100}]},
    "not a record",
    {"name": "a property that lost its id"},
]
LEASE_TRANSACTIONS = [
    {"id": "x1", "lease": "l1", "date": "2024-01-05", "paymentMethod": "CHECK"},
    {"id": "x2", "lease": "l2", "property": "p2", "date": "2024-02-10", "paymentMethod": "EPAY"},
    {"id": "x3", "lease": "l3", "date": "not-a-date"},
]
VENDOR_BILLS = [
    {
        "id": "b1",
        "vendor": "v1",
        "date": "2024-01-15",
        "dueDate": "2024-02-15",
        "totalBalance": 100.0,
        "lines": [{"linkedToResourceId": "p2", "amount": 100.0}],
    },
    {
        "id": "b2",
        "vendor": "v2",
        "date": "2024-04-01",
        "dueDate": "2024-05-01",
        "totalBalance": 0,
        "lines": [{"linkedToResourceId": "p3", "amount": 20.0}],
    },
]
ATTACHED = [
    {
        "id": "a1",
        "createdAt": "2024-01-01T00:30:00+02:00",
        "createdBy": "us1",
        "tags": ["urgent"],
        "linkedResource": {"resourceId": "p1", "resourceType": "PROPERTY"},
        "title": "Roof",
        "body": "Leaks in rain",
        "name": "roof.jpg",
        "notes": "Photo of the leak",
    },
    {
        "id": "a2",
        "createdAt": "2024-02-01T09:00:00.000Z",
        "createdBy": "us2",
        "tags": [],
        "linkedResource": {"resourceId": "t1", "resourceType": "TENANT"},
        "title": "Call",
        "body": "Tenant called",
        "name": "lease.pdf",
        "notes": "Signed copy",
    },
]

WORLD: dict[str, list[Any]] = {
    "portfolios": [
        {"id": "g1", "name": "North", "properties": ["p1", "p2"]},
        {"id": "g2", "name": "South", "properties": ["p3"]},
    ],
    "properties": PROPERTIES,
    "units": [
        {"id": "u1", "property": "p1", "name": "101", "active": True},
        {"id": "u2", "property": "p2", "name": "Suite A", "active": True},
        {"id": "u3", "property": "p3", "name": "102", "active": False},
    ],
    "leases": [
        {
            "id": "l1",
            "property": "p1",
            "units": ["u1"],
            "name": "Ann Lee",
            "start": "2024-01-01",
            "end": "2024-12-31",
            "status": "ACTIVE",
            "term": "Fixed",
            "outstandingBalance": 100.0,
        },
        {
            "id": "l2",
            "property": "p2",
            "units": ["u2"],
            "name": "Bob Stone",
            "start": "2023-06-01",
            "end": "2024-05-31",
            "status": "INACTIVE",
            "term": "AtWill",
            "outstandingBalance": 0,
        },
        {
            "id": "l3",
            "property": "p3",
            "units": ["u3"],
            "name": "Cy Young",
            "start": "2024-03-01",
            "status": "ACTIVE",
            "term": "AT_WILL",
            "outstandingBalance": "12,50 USD",
        },
    ],
    "lease_tenants": [
        {
            "id": "lt1",
            "lease": "l1",
            "property": "p1",
            "units": ["u1"],
            "tenant": {"id": "t1", "name": "Ann Lee"},
            "status": "CURRENT",
            "name": "Ann Lee",
            "moveInAt": "2024-01-01",
        },
        {
            "id": "lt2",
            "lease": "l2",
            "property": "p2",
            "units": ["u2"],
            "tenant": "t2",
            "status": "PAST",
            "name": "Bob Stone",
            "moveInAt": "2023-06-01",
            "moveOutAt": "2024-05-31",
        },
    ],
    "tenants": [
        {
            "id": "t1",
            "name": "Ann Lee",
            "type": "LEASE_TENANT",
            "emails": [{"type": "Primary", "address": "ann@example.com"}],
        },
        {
            "id": "t2",
            "name": "Bob Stone",
            "type": "LEASE_TENANT",
            "emails": [{"type": "Work", "address": "bob@stone.io"}],
        },
        {"id": "t3", "name": "Cara Prospect", "type": "PROSPECT_TENANT"},
    ],
    "owners": [
        {
            "id": "o1",
            "name": "Olive Owner",
            "active": True,
            "managementEndDate": "2024-06-30",
            "createdAt": "2024-01-01T10:00:00.000Z",
        },
        {
            "id": "o2",
            "name": "Otto Holdings",
            "active": False,
            "managementEndDate": "2025-01-01",
            "createdAt": "2023-12-31T23:30:00-02:00",
            "emails": [{"address": "otto@holdings.com"}],
        },
        {"id": "o3", "name": "Ola Nord", "active": True, "createdAt": "2024-03-05T12:00:00.000Z"},
    ],
    "vendors": [
        {
            "id": "v1",
            "properties": ["p1"],
            "active": True,
            "insuranceInfo": {"expirationDate": "2024-06-01"},
            "balance": 50.0,
            "createdAt": "2024-02-01T08:00:00.000Z",
        },
        {
            "id": "v2",
            "properties": ["p2", "p3"],
            "active": False,
            "insuranceInfo": {"expirationDate": "2025-06-01"},
            "balance": 0,
            "createdAt": "2024-05-01T08:00:00.000Z",
        },
    ],
    "tasks": [
        {
            "id": "k1",
            "property": "p1",
            "unit": "u1",
            "type": "WORK_ORDER",
            "status": "COMPLETED",
            "createdAt": "2024-01-02T10:00:00Z",
            "dueDate": "2024-01-10",
            "completedAt": "2024-01-09T16:00:00Z",
            "assignedToUsers": ["us1"],
            "subject": "Fix leak",
            "description": "Kitchen sink",
            "reference": "T-1",
            "requestedByTenant": "t1",
        },
        {
            "id": "k2",
            "property": "p3",
            "type": "INTERNAL_TASK",
            "status": "IN_PROGRESS",
            "createdAt": "2024-03-02T10:00:00Z",
            "dueDate": "2024-03-20",
            "assignedToUsers": [],
            "subject": "Inspect roof",
            "description": "Yearly",
            "reference": "T-2",
            "requestedByUser": "us1",
        },
    ],
    **{
        name: LEASE_TRANSACTIONS
        for name in ("lease_payments", "lease_charges", "lease_credits", "lease_reversed_payments")
    },
    "expenses": [
        {
            "id": "e1",
            "date": "2024-01-10",
            "payToResourceType": "VENDOR",
            "payToResourceId": "v1",
            "payFromAccount": "a9",
            "lines": [{"linkedToResourceId": "p1", "amount": 10.0}],
        },
        {
            "id": "e2",
            "date": "2024-03-01",
            "payToResourceType": "TENANT",
            "payToResourceId": "t1",
            "payFromAccount": "a8",
            "lines": [{"linkedToResourceId": "p3", "amount": 20.0}],
        },
    ],
    "vendor_bills": VENDOR_BILLS,
    "vendor_credits": VENDOR_BILLS,
    "communications": [
        {
            "id": "c1",
            "sentAt": "2024-01-02T08:00:00.000Z",
            "from": {"linkedToId": "us1", "linkedToType": "USER"},
            "to": [{"linkedToId": "t1", "linkedToType": "TENANT"}],
            "threadId": "th1",
            "status": "DELIVERED",
            "type": "EMAIL",
        },
        {
            "id": "c2",
            "sentAt": "2024-01-03T23:59:59Z",
            "from": {"linkedToType": "SYSTEM"},
            "to": [{"linkedToId": "o1", "linkedToType": "OWNER"}],
            "threadId": "th2",
            "status": "FAILED",
            "type": "TEXT",
        },
    ],
    "notes": ATTACHED,
    "files": ATTACHED,
}


def _date_range(entity: str, start: str | None, end: str | None) -> dict[str, str]:
    """Registry-derived date filter names, so these tests read what the client sends."""
    e = ENTITIES[entity]
    return {k: v for k, v in ((e.date_filter_from, start), (e.date_filter_to, end)) if v is not None}


def _lease_transaction_cases(entity: str) -> list[tuple[str, dict[str, str], list[str]]]:
    cases = [
        (entity, {"filter_lease": "l1"}, ["x1"]),
        (entity, {"filter_property": "p1"}, ["x1"]),  # through the lease
        (entity, {"filter_property": "p2"}, ["x2"]),  # its own property field
        (entity, {"filter_owner": "o2"}, ["x1", "x2"]),
        (entity, {"filter_owner": "o3"}, ["x3"]),
        (entity, _date_range(entity, "2024-02-01", None), ["x2"]),
        (entity, _date_range(entity, None, "2024-01-31"), ["x1"]),
        (entity, _date_range(entity, "2024-01-05", "2024-01-05"), ["x1"]),
    ]
    if entity in ("lease_payments", "lease_reversed_payments"):
        cases.append((entity, {"filter_paymentMethod": "EPAY"}, ["x2"]))
    if entity == "lease_charges":
        cases.append((entity, {"filter_unit": "u3"}, ["x3"]))
    return cases


def _vendor_bill_cases(entity: str) -> list[tuple[str, dict[str, str], list[str]]]:
    return [
        (entity, {"filter_group": "g1"}, ["b1"]),
        (entity, {"filter_property": "p3"}, ["b2"]),
        (entity, {"filter_vendor": "v2"}, ["b2"]),
        (entity, _date_range(entity, "2024-02-01", "2024-12-31"), ["b2"]),
        (entity, {"filter_due_date_from": "2024-03-01"}, ["b2"]),
        (entity, {"filter_due_date_to": "2024-03-01"}, ["b1"]),
        (entity, {"filter_openBills": "true"}, ["b1"]),
        (entity, {"filter_openBills": "false"}, ["b2"]),
    ]


def _attachment_cases(entity: str, text: str, expected: str) -> list[tuple[str, dict[str, str], list[str]]]:
    return [
        (entity, _date_range(entity, "2023-12-31", "2023-12-31"), ["a1"]),  # 00:30+02:00 is Dec 31 in UTC
        (entity, _date_range(entity, "2024-01-01", None), ["a2"]),
        (entity, {"filter_resourceId": "t1"}, ["a2"]),
        (entity, {"filter_createdBy": "us1"}, ["a1"]),
        (entity, {"filter_tags": "urgent"}, ["a1"]),
        (entity, {"filter_text": text}, [expected]),
    ]


FILTER_CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("properties", {"filter_text": "maple"}, ["p1"]),
    ("properties", {"filter_group": "g1"}, ["p1", "p2"]),
    ("properties", {"filter_class": "RESIDENTIAL"}, ["p1", "p3"]),
    ("properties", {"filter_owner": "o2"}, ["p1", "p2"]),
    ("properties", {"filter_owner": "o2", "filter_class": "COMMERCIAL"}, ["p2"]),
    ("units", {"filter_property": "p2"}, ["u2"]),
    ("units", {"filter_group": "g2", "filter_active": "all"}, ["u3"]),
    ("units", {"filter_owner": "o2"}, ["u1", "u2"]),
    ("units", {"filter_text": "suite"}, ["u2"]),
    ("units", {"filter_active": "false"}, ["u3"]),
    ("leases", {"filter_group": "g1"}, ["l1", "l2"]),
    ("leases", {"filter_property": "p3"}, ["l3"]),
    ("leases", {"filter_owner": "o1"}, ["l1"]),
    ("leases", {"filter_text": "STONE"}, ["l2"]),
    ("leases", {"filter_start_date_from": "2024-01-01"}, ["l1", "l3"]),
    ("leases", {"filter_start_date_to": "2023-12-31"}, ["l2"]),
    ("leases", {"filter_end_date_from": "2024-06-01"}, ["l1"]),
    ("leases", {"filter_end_date_to": "2024-05-31"}, ["l2"]),
    ("leases", {"filter_propertyClass": "COMMERCIAL"}, ["l2"]),
    ("leases", {"filter_unit": "u3"}, ["l3"]),
    ("leases", {"filter_tenant": "t2"}, ["l2"]),
    ("leases", {"filter_outstandingBalanceGreaterThan": "0"}, ["l1"]),
    ("leases", {"filter_status": "ACTIVE"}, ["l1", "l3"]),
    ("leases", {"filter_term": "AtWill"}, ["l2", "l3"]),
    ("lease_tenants", {"filter_group": "g1"}, ["lt1", "lt2"]),
    ("lease_tenants", {"filter_property": "p2"}, ["lt2"]),
    ("lease_tenants", {"filter_lease": "l1"}, ["lt1"]),
    ("lease_tenants", {"filter_status": "PAST"}, ["lt2"]),
    ("lease_tenants", {"filter_text": "ann"}, ["lt1"]),
    ("lease_tenants", {"filter_movedInAt_from": "2024-01-01"}, ["lt1"]),
    ("lease_tenants", {"filter_movedInAt_to": "2023-12-31"}, ["lt2"]),
    ("lease_tenants", {"filter_movedOutAt_from": "2024-01-01"}, ["lt2"]),
    ("lease_tenants", {"filter_movedOutAt_To": "2024-05-30"}, []),
    ("tenants", {"filter_group": "g1"}, ["t1", "t2"]),
    ("tenants", {"filter_property": "p1"}, ["t1"]),
    ("tenants", {"filter_lease": "l2"}, ["t2"]),
    ("tenants", {"filter_unit": "u2"}, ["t2"]),
    ("tenants", {"filter_text": "STONE.IO"}, ["t2"]),
    ("tenants", {"filter_type": "PROSPECT_TENANT"}, ["t3"]),
    ("owners", {"filter_group": "g2"}, ["o3"]),
    ("owners", {"filter_property": "p1"}, ["o1", "o2"]),
    ("owners", {"filter_active": "true"}, ["o1", "o3"]),
    ("owners", {"filter_active": "all"}, ["o1", "o2", "o3"]),
    ("owners", {"filter_text": "holdings.com"}, ["o2"]),
    ("owners", {"filter_management_ends_before": "2024-06-30"}, []),
    ("owners", {"filter_management_ends_before": "2024-07-01"}, ["o1"]),
    ("owners", {"filter_createdAt_from": "2024-01-01", "filter_createdAt_to": "2024-01-01"}, ["o1", "o2"]),
    ("owners", {"filter_createdAt_from": "2024-01-02"}, ["o3"]),
    ("vendors", {"filter_property": "p3"}, ["v2"]),
    ("vendors", {"filter_active": "false"}, ["v2"]),
    ("vendors", {"filter_insurance_expires_before": "2024-12-31"}, ["v1"]),
    ("vendors", {"filter_openBalance": "true"}, ["v1"]),
    ("vendors", {"filter_createdAt_from": "2024-03-01"}, ["v2"]),
    ("vendors", {"filter_createdAt_to": "2024-03-01"}, ["v1"]),
    ("tasks", {"filter_propertyGroup": "g2"}, ["k2"]),
    ("tasks", {"filter_property": "p1"}, ["k1"]),
    ("tasks", {"filter_unit": "u1"}, ["k1"]),
    ("tasks", {"filter_type": "INTERNAL_TASK"}, ["k2"]),
    ("tasks", {"filter_status": "COMPLETED"}, ["k1"]),
    ("tasks", {"filter_status": "NOT_COMPLETED"}, ["k2"]),
    ("tasks", {"filter_createdAt_from": "2024-02-01"}, ["k2"]),
    ("tasks", {"filter_createdAt_to": "2024-02-01"}, ["k1"]),
    ("tasks", {"filter_dueDate_from": "2024-03-20"}, ["k2"]),
    ("tasks", {"filter_dueDate_to": "2024-01-10"}, ["k1"]),
    ("tasks", {"filter_completedAt_from": "2024-01-09", "filter_completedAt_to": "2024-01-09"}, ["k1"]),
    ("tasks", {"filter_assignedToUser": "us1"}, ["k1"]),
    ("tasks", {"filter_assignedToUser": "unassigned"}, ["k2"]),
    ("tasks", {"filter_text": "kitchen"}, ["k1"]),
    ("tasks", {"filter_requestedById": "us1"}, ["k2"]),
    ("tasks", {"filter_requestedById": "t1"}, ["k1"]),
    *(
        case
        for entity in ("lease_payments", "lease_charges", "lease_credits", "lease_reversed_payments")
        for case in _lease_transaction_cases(entity)
    ),
    ("expenses", {"filter_group": "g1"}, ["e1"]),
    ("expenses", {"filter_property": "p3"}, ["e2"]),
    ("expenses", {"filter_owner": "o3"}, ["e2"]),
    ("expenses", {"filter_vendor": "v1"}, ["e1"]),
    ("expenses", {"filter_tenant": "t1"}, ["e2"]),
    ("expenses", {"filter_payFromAccount": "a9"}, ["e1"]),
    ("expenses", _date_range("expenses", "2024-02-01", None), ["e2"]),
    ("expenses", _date_range("expenses", None, "2024-02-01"), ["e1"]),
    *(case for entity in ("vendor_bills", "vendor_credits") for case in _vendor_bill_cases(entity)),
    ("communications", _date_range("communications", "2024-01-03", "2024-01-03"), ["c2"]),
    ("communications", _date_range("communications", None, "2024-01-02"), ["c1"]),
    ("communications", {"filter_participantLinkedToType": "OWNER"}, ["c2"]),
    ("communications", {"filter_participantLinkedToId": "us1"}, ["c1"]),
    ("communications", {"filter_threadId": "th2"}, ["c2"]),
    ("communications", {"filter_status": "DELIVERED"}, ["c1"]),
    ("communications", {"filter_type": "TEXT"}, ["c2"]),
    *_attachment_cases("notes", "leaks", "a1"),
    *_attachment_cases("files", "signed", "a2"),
]


@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    with Sandbox(WORLD, UNLIMITED) as sandbox:
        yield sandbox


@pytest.mark.parametrize(("entity", "params", "expected"), FILTER_CASES, ids=lambda v: str(v))
def test_filter(
    world: Sandbox, http: requests.Session, entity: str, params: dict[str, str], expected: list[str]
) -> None:
    response = get(http, world, ENTITIES[entity].path, **params)
    assert ids(response) == expected
    assert response.json()["total"] == len(expected)


def test_every_filter_the_sandbox_implements_is_exercised() -> None:
    implemented = {(entity, name) for entity, table in FILTERS.items() for name in table}
    exercised = {(entity, name) for entity, params, _ in FILTER_CASES for name in params}
    assert implemented - exercised == set()


def test_partitioned_entities_filter_on_the_registry_date_filter() -> None:
    for e in ENTITIES.values():
        if e.partitioned:
            assert {e.date_filter_from, e.date_filter_to} <= set(FILTERS[e.name]), e.name


DATED = [  # lease payments as stored (not in date order), each with the UTC days its date stands for
    ({"id": "p1", "date": "2024-01-05"}, ["2024-01-05"]),
    ({"id": "p2", "date": "2024-01-05T23:30:00-05:00"}, ["2024-01-06"]),
    ({"id": "p3", "date": "2024-01-06T01:00:00+03:00"}, ["2024-01-05"]),
    ({"id": "p4", "date": "2024-01-07T12:00:00"}, ["2024-01-07"]),
    ({"id": "p5", "date": "not a date"}, []),
    ({"id": "p6"}, []),
    ({"id": "p7", "date": ["2024-01-01", "2024-02-01"]}, ["2024-01-01", "2024-02-01"]),
    ("junk", []),
    ({"id": "p8", "date": "2024-01-04"}, ["2024-01-04"]),
]
BOUNDS = [
    None,
    "2023-12-31",
    "2024-01-01",
    "2024-01-04",
    "2024-01-05",
    "2024-01-06",
    "2024-01-07",
    "2024-01-08",
    "2024-02-01",
    "2024-02-02",
]


def test_a_dated_listing_holds_every_record_of_its_utc_days_in_stored_order(
    sandbox_factory: Factory, http: requests.Session
) -> None:
    """Every range over HTTP (answered from the sandbox's date index), then a range again after
    a change has replaced the stored records the index was built on."""
    sandbox = sandbox_factory({"lease_payments": [record for record, _ in DATED]})
    for since, until in ((since, until) for since in BOUNDS for until in BOUNDS if since or until):
        expected = [
            record["id"]
            for record, days in DATED
            if days
            and (since is None or any(day >= since for day in days))
            and (until is None or any(day <= until for day in days))
        ]
        params = _date_range("lease_payments", since, until)
        assert ids(get(http, sandbox, "/lease-payments", **params)) == expected, (since, until)
    sandbox.mutate("lease_payments", upsert=[{"id": "p9", "date": "2024-01-06"}], delete_ids=["p2"])
    changed = get(http, sandbox, "/lease-payments", **_date_range("lease_payments", "2024-01-06", "2024-01-07"))
    assert ids(changed) == ["p4", "p7", "p9"]  # p7's dates fall either side, each meeting one bound


def test_a_parents_rows_are_those_naming_it_in_either_shape_in_stored_order(
    sandbox_factory: Factory, http: requests.Session
) -> None:
    """Lease tenant rows by lease (answered from the sandbox's parent index), with the other
    filters still applied, and again after a change has replaced the rows."""
    rows = [
        {"id": "r1", "lease": "l1", "status": "CURRENT"},
        {"id": "r2", "lease": {"id": "l2"}, "status": "CURRENT"},
        {"id": "r3", "lease": {"id": "l1"}, "status": "PAST"},
        {"id": "r4", "status": "CURRENT"},
        {"id": "r5", "lease": ["l2", "l1"], "status": "CURRENT"},
        "junk",
        {"id": "r6", "lease": "l1", "status": "CURRENT"},
    ]
    sandbox = sandbox_factory({"lease_tenants": rows})
    listed = {lease: ids(get(http, sandbox, "/leases/tenants", filter_lease=lease)) for lease in ("l1", "l2", "l3")}
    assert listed == {"l1": ["r1", "r3", "r5", "r6"], "l2": ["r2", "r5"], "l3": []}
    assert ids(get(http, sandbox, "/leases/tenants", filter_lease="l1", filter_status="PAST")) == ["r3"]
    sandbox.mutate("lease_tenants", upsert=[{"id": "r7", "lease": "l3"}], delete_ids=["r1"])
    assert ids(get(http, sandbox, "/leases/tenants", filter_lease="l3")) == ["r7"]
    assert ids(get(http, sandbox, "/leases/tenants", filter_lease="l1")) == ["r3", "r5", "r6"]


def test_units_default_to_active_only(world: Sandbox, http: requests.Session) -> None:
    assert ids(get(http, world, "/units")) == ["u1", "u2"]
    assert ids(get(http, world, "/units", filter_active="true")) == ["u1", "u2"]
    assert ids(get(http, world, "/units", filter_active="all")) == ["u1", "u2", "u3"]


def test_without_filters_malformed_records_are_served_and_unknown_params_ignored(
    world: Sandbox, http: requests.Session
) -> None:
    assert get(http, world, "/properties", filter_bogus="x", limit="1").json() == {"total": 5, "data": PROPERTIES}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/expenses", {"filter_date_from": "2024-13-01"}),
        ("/expenses", {"filter_date_to": "01/02/2024"}),
        ("/owners", {"filter_active": "maybe"}),
        ("/leases", {"filter_outstandingBalanceGreaterThan": "lots"}),
    ],
)
def test_unreadable_filter_values_answer_400_naming_the_filter(
    world: Sandbox, http: requests.Session, path: str, params: dict[str, str]
) -> None:
    response = get(http, world, path, **params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["message"]


# --- routing, auth, roles ----------------------------------------------------------------------


def test_lease_tenants_list_is_not_a_lease_id(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"leases": [{"id": "tenants"}, {"id": "l1"}], "lease_tenants": [{"id": "lt1"}]})
    assert get(http, sandbox, "/leases/tenants").json() == {"total": 1, "data": [{"id": "lt1"}]}
    assert get(http, sandbox, "/leases/tenants/lt1").json() == {"id": "lt1"}
    assert get(http, sandbox, "/leases/l1").json() == {"id": "l1"}


def test_a_lease_tenant_change_goes_through_its_lease_and_its_tenant(sandbox_factory: Factory) -> None:
    """As in DoorLoop: editing a lease's tenants stamps the lease, a deleted lease takes its rows,
    and each row embeds its tenant as the tenant now is."""
    old = "2024-01-01T00:00:00.000Z"
    leases = [{"id": f"l{n}", "updatedAt": old} for n in range(3)]
    tenant = {"id": "t1", "name": "Ann", "updatedAt": old}
    rows = [{"id": f"r{n}", "lease": f"l{n}", "tenant": dict(tenant)} for n in range(3)]
    sandbox = sandbox_factory({"leases": leases, "tenants": [tenant], "lease_tenants": rows})
    sandbox.mutate("lease_tenants", upsert=[dict(rows[0], moveOutAt="2026-01-31")])
    assert [r["updatedAt"] > old for r in sandbox.records("leases")] == [True, False, False]
    sandbox.mutate("lease_tenants", delete_ids=["r1"])
    assert [r["updatedAt"] > old for r in sandbox.records("leases")] == [True, True, False]
    sandbox.mutate("tenants", upsert=[dict(tenant, name="Anne")])
    assert {r["tenant"]["name"] for r in sandbox.records("lease_tenants")} == {"Anne"}
    assert [r["tenant"] for r in sandbox.records("lease_tenants")] == sandbox.records("tenants") * 2
    sandbox.mutate("leases", delete_ids=["l2"])
    assert [r["id"] for r in sandbox.records("lease_tenants")] == ["r0"]


@pytest.mark.parametrize(
    "path", ["/nope", "/leases/l9", "/leases/tenants/zz", "/property-groups/x/y", "", "/../properties"]
)
def test_unknown_paths_and_ids_answer_404_json(world: Sandbox, http: requests.Session, path: str) -> None:
    response = get(http, world, path)
    assert response.status_code == 404
    assert response.json()["status"] == 404
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("header", [None, "bearer wrong", "sandbox-token", "Token sandbox-token", "bearer"])
def test_missing_or_wrong_token_answers_401(world: Sandbox, http: requests.Session, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = get(http, world, "/units", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("scheme", ["bearer", "Bearer", "BEARER"])
def test_bearer_scheme_is_case_insensitive(world: Sandbox, http: requests.Session, scheme: str) -> None:
    assert get(http, world, "/units", headers={"Authorization": f"{scheme} {TOKEN}"}).status_code == 200


def test_denied_paths_and_writes_answer_405(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"users": [{"id": "us1"}]}, denied_paths=frozenset({"/users"}))
    for path in ("/users", "/users/us1"):
        response = get(http, sandbox, path)
        assert response.status_code == 405
        assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert get(http, sandbox, "/units").status_code == 200
    assert http.post(sandbox.base_url + "/units", json={"name": "x"}, headers=AUTH).status_code == 405


# --- rate limits ---------------------------------------------------------------------------------


def _limited(sandbox_factory: Factory, per_minute: int | None, per_hour: int | None) -> Sandbox:
    return sandbox_factory({}, rate_limit_per_minute=per_minute, rate_limit_per_hour=per_hour)


def test_minute_limit_answers_429_with_retry_after(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = _limited(sandbox_factory, 3, None)
    assert [get(http, sandbox, "/units").status_code for _ in range(3)] == [200] * 3
    refused = get(http, sandbox, "/units")
    assert refused.status_code == 429
    assert refused.json() == {"status": 429, "code": "RATE_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}
    assert 55 <= int(refused.headers["Retry-After"]) <= 60


def test_hour_limit_asks_to_wait_for_the_hour(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = _limited(sandbox_factory, 100, 2)
    responses = [get(http, sandbox, "/units") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert 3500 <= int(responses[2].headers["Retry-After"]) <= 3600


def test_a_shortened_minute_window_clears_in_seconds(http: requests.Session) -> None:
    now = [0.0]  # the sandbox's clock: time moves only when the test says
    config = SandboxConfig(token=TOKEN, rate_limit_per_minute=2, rate_limit_per_hour=None, rate_window_seconds=0.3)
    with Sandbox({}, config, clock=lambda: now[0]) as sandbox:
        responses = [get(http, sandbox, "/units") for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 429]
        assert responses[2].headers["Retry-After"] == "1"
        now[0] = 0.29
        assert get(http, sandbox, "/units").status_code == 429  # still inside the 0.3 s window
        now[0] = 0.3
        assert get(http, sandbox, "/units").status_code == 200


def test_refused_requests_do_not_use_up_the_window() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=2, per_hour=3, clock=lambda: now[0])
    assert [limiter.admit("t"), limiter.admit("t")] == [None, None]
    now[0] = 10.0
    assert limiter.admit("t") == 50
    now[0] = 59.5
    assert limiter.admit("t") == 1
    now[0] = 60.0
    assert limiter.admit("t") is None  # the refusals at 10 s and 59.5 s did not count
    now[0] = 70.0
    assert limiter.admit("t") == 3530  # the hour window (3 per hour) is now the binding one
    assert limiter.admit("other token") is None


# --- faults ------------------------------------------------------------------------------------------


def test_fault_spec_parses_every_kind() -> None:
    text = "5xx=0.2,429=0.1:3,slow=0.05,truncate=0.1,malformed=0.01,drift=1.0:2,html=0.1,slow_seconds=1.5"
    spec = FaultSpec.parse(text)
    assert spec.rate("429") == FaultRate(0.1, 3)
    assert spec.rate("drift") == FaultRate(1.0, 2)
    assert spec.rate("5xx") == FaultRate(0.2)
    assert spec.slow_seconds == 1.5
    assert FaultSpec.parse(str(spec)) == spec
    assert FaultSpec.parse(None) == FaultSpec.parse("") == FaultSpec()
    assert FaultSpec().rate("5xx") == FaultRate(0.0)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("bogus=0.1", "bogus"),
        ("5xx", "5xx"),
        ("5xx=1.5", "5xx=1.5"),
        ("slow=abc", "abc"),
        ("429=0.1:x", "429=0.1:x"),
        ("429=0.1:-1", "429=0.1:-1"),
        ("slow_seconds=-1", "slow_seconds=-1"),
        ("html=0.1,html=0.2", "html=0.2"),
    ],
)
def test_fault_spec_errors_name_the_bad_item(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        FaultSpec.parse(text)


def test_5xx_fault(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"expenses": numbered(3)}, **faulty("5xx=1.0"))
    responses = [get(http, sandbox, "/expenses") for _ in range(10)]
    assert {r.status_code for r in responses} == {500, 503}
    assert {r.json()["code"] for r in responses} == {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}


def test_injected_429_says_retry_after_1_and_respects_its_cap(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"expenses": numbered(3)}, **faulty("429=1.0:2"))
    responses = [get(http, sandbox, "/expenses") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 200, 200]
    assert responses[0].headers["Retry-After"] == "1"
    assert responses[0].json()["code"] == "RATE_LIMIT_EXCEEDED"


def test_slow_fault_delays_a_normal_answer(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"expenses": numbered(3)}, **faulty("slow=1.0:1,slow_seconds=0.3"))
    began = time.monotonic()
    assert get(http, sandbox, "/expenses").json()["total"] == 3
    assert time.monotonic() - began >= 0.3


def test_truncate_fault_cuts_the_json_body_in_half(sandbox_factory: Factory, http: requests.Session) -> None:
    whole = get(http, sandbox_factory({"expenses": numbered(20)}), "/expenses").content
    cut = get(http, sandbox_factory({"expenses": numbered(20)}, **faulty("truncate=1.0")), "/expenses")
    assert cut.status_code == 200
    assert cut.headers["Content-Type"].startswith("application/json")
    assert int(cut.headers["Content-Length"]) == len(cut.content) == len(whole) // 2
    assert cut.content == whole[: len(whole) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


def test_html_fault_serves_a_login_page(sandbox_factory: Factory, http: requests.Session) -> None:
    response = get(http, sandbox_factory({"expenses": numbered(3)}, **faulty("html=1.0")), f"/expenses/{hex_id(1)}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"<html" in response.content


def test_faults_spare_auth_errors_and_unknown_paths(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({}, **faulty("5xx=1.0"))
    assert get(http, sandbox, "/units", headers={}).status_code == 401
    assert get(http, sandbox, "/nope").status_code == 404


def test_request_faults_replay_with_the_same_seed(sandbox_factory: Factory, http: requests.Session) -> None:
    spec = "5xx=0.3,429=0.2,html=0.1,truncate=0.1"
    runs = []
    for seed in (1, 1, 2):
        sandbox = sandbox_factory({"expenses": numbered(5)}, **faulty(spec, seed))
        runs.append(
            [
                (r.status_code, r.headers["Content-Type"], r.content)
                for r in (get(http, sandbox, "/expenses") for _ in range(30))
            ]
        )
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {status for status, _, _ in runs[0]} >= {200, 429}
    assert {kind for _, kind, _ in runs[0]} >= {"application/json; charset=utf-8", "text/html; charset=utf-8"}


def _corrupt_dataset() -> dict[str, list[Any]]:
    return {"lease_payments": numbered(40), "accounts": [{"id": hex_id(i), "balance": 10.0} for i in range(40)]}


def test_malformed_fault_corrupts_records_once_and_deterministically(
    sandbox_factory: Factory, http: requests.Session
) -> None:
    sandbox = sandbox_factory(_corrupt_dataset(), **faulty("malformed=0.3"))
    twin = Sandbox(_corrupt_dataset(), SandboxConfig(**faulty("malformed=0.3")))
    payments = sandbox.records("lease_payments")
    assert payments == twin.records("lease_payments")
    assert sandbox.records("accounts") == twin.records("accounts")
    assert any("id" not in r for r in payments)
    assert any(r.get("date") == "not-a-date" for r in payments)
    assert any(r.get("balance") == "12,50 USD" for r in sandbox.records("accounts"))
    served = [get(http, sandbox, "/lease-payments", page_size=1000).json()["data"] for _ in range(2)]
    assert served == [payments, payments]
    assert _corrupt_dataset()["lease_payments"] == numbered(40)


def test_malformed_fault_respects_its_cap(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(_corrupt_dataset(), **faulty("malformed=1.0:3"))
    changed = [r for name, records in _corrupt_dataset().items() for r in sandbox.records(name) if r not in records]
    assert len(changed) == 3


def _walk(http: requests.Session, sandbox: Sandbox, pages: int) -> list[int]:
    return [get(http, sandbox, "/expenses", page_size=3, page_number=p).json()["total"] for p in range(1, pages + 1)]


def test_drift_moves_data_between_pages_and_persists(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"expenses": numbered(10)}, **faulty("drift=1.0:2"))
    assert _walk(http, sandbox, 1) == [10]  # page 1 never drifts
    totals = _walk(http, sandbox, 4)
    assert totals[0] == 10
    assert abs(totals[1] - 10) == 1 and abs(totals[2] - totals[1]) == 1
    assert totals[3] == totals[2]  # the cap of two drifts is spent
    assert len(sandbox.records("expenses")) == totals[3]
    twin = sandbox_factory({"expenses": numbered(10)}, **faulty("drift=1.0:2"))
    _walk(http, twin, 1)
    _walk(http, twin, 4)
    assert twin.records("expenses") == sandbox.records("expenses")
    inserted = [r for r in sandbox.records("expenses") if r not in numbered(10)]
    assert all(len(r["id"]) == 24 and int(r["id"], 16) >= 0 for r in inserted)


# --- reference shapes ----------------------------------------------------------------------------

SHAPED: dict[str, list[dict[str, Any]]] = {
    "leases": [{"id": hex_id(1), "property": hex_id(2), "units": [hex_id(3), {"id": hex_id(4), "name": "4B"}]}],
    "lease_tenants": [{"id": hex_id(5), "lease": hex_id(1), "tenant": {"id": hex_id(6), "name": "Ann"}, "units": []}],
    "properties": [{"id": hex_id(2), "owners": [{"owner": hex_id(9), "ownershipPercentage": 100}]}],
    "tasks": [
        {
            "id": hex_id(7),
            "type": "WORK_ORDER",
            "workOrder": {"assignedToVendor": hex_id(8), "billed": False},
            "linkedResource": {"resourceType": "LEASE", "resourceId": hex_id(1)},
            "createdBy": None,
        }
    ],
}
# The same records with every reference in the other shape; a record's own id never changes.
FLIPPED = {
    "leases": [{"id": hex_id(1), "property": {"id": hex_id(2)}, "units": [{"id": hex_id(3)}, hex_id(4)]}],
    "lease_tenants": [{"id": hex_id(5), "lease": {"id": hex_id(1)}, "tenant": hex_id(6), "units": []}],
    "properties": [{"id": hex_id(2), "owners": [{"owner": {"id": hex_id(9)}, "ownershipPercentage": 100}]}],
    "tasks": [
        {
            "id": hex_id(7),
            "type": "WORK_ORDER",
            "workOrder": {"assignedToVendor": {"id": hex_id(8)}, "billed": False},
            "linkedResource": {"resourceType": "LEASE", "resourceId": {"id": hex_id(1)}},
            "createdBy": None,
        }
    ],
}


def test_reference_shape_flipped_serves_every_reference_in_the_other_shape(
    sandbox_factory: Factory, http: requests.Session
) -> None:
    stored = json.loads(json.dumps(SHAPED))
    sandbox = sandbox_factory(stored, reference_shape="flipped")
    for name, entity in ((n, ENTITIES[n]) for n in SHAPED):
        assert get(http, sandbox, entity.path).json()["data"] == FLIPPED[name], name
        assert get(http, sandbox, f"{entity.path}/{SHAPED[name][0]['id']}").json() == FLIPPED[name][0], name
    # the stored data is not touched, and filters still follow references in either shape
    assert stored == SHAPED and sandbox.records("leases") == SHAPED["leases"]
    assert ids(get(http, sandbox, "/leases", filter_unit=hex_id(4))) == [hex_id(1)]
    assert get(http, sandbox_factory(SHAPED), "/leases").json()["data"] == SHAPED["leases"]  # as-generated


def test_reference_shape_mixed_flips_what_the_seed_picks_the_same_way_every_read(
    sandbox_factory: Factory, http: requests.Session
) -> None:
    leases = [
        {"id": hex_id(i), "property": hex_id(100 + i), "units": [hex_id(200 + i), hex_id(300 + i)]} for i in range(40)
    ]

    def served(seed: int) -> tuple[Sandbox, list[dict[str, Any]]]:
        sandbox = sandbox_factory({"leases": leases}, reference_shape="mixed", seed=seed)
        return sandbox, get(http, sandbox, "/leases", page_size=1000).json()["data"]

    sandbox, first = served(3)
    assert served(3)[1] == first  # same seed, same bytes
    assert served(4)[1] != first
    references = [r["property"] for r in first] + [u for r in first for u in r["units"]]
    assert {type(ref) for ref in references} == {str, dict}
    assert [[reference_id(u) for u in r["units"]] for r in first] == [r["units"] for r in leases]
    # a page and the single GET show a record just as the whole listing does
    assert get(http, sandbox, "/leases", page_size=10, page_number=2).json()["data"] == first[10:20]
    assert get(http, sandbox, f"/leases/{hex_id(5)}").json() == first[5]


def test_an_unknown_reference_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="as-generated, flipped, mixed"):
        SandboxConfig(reference_shape="sideways")


# --- directory datasets, mutation, log, lifecycle -----------------------------------------------


def test_from_directory_serves_records_as_stored_and_missing_files_as_empty(
    tmp_path: Path, http: requests.Session
) -> None:
    (tmp_path / "properties.json").write_text(json.dumps(PROPERTIES), encoding="utf-8")
    with Sandbox.from_directory(tmp_path, UNLIMITED) as sandbox:
        assert get(http, sandbox, "/properties").json() == {"total": 5, "data": PROPERTIES}
        assert get(http, sandbox, "/units", filter_active="all").json() == {"total": 0, "data": []}


def test_from_directory_rejects_what_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Sandbox.from_directory(tmp_path / "missing")
    (tmp_path / "units.json").write_text('{"data": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="units.json"):
        Sandbox.from_directory(tmp_path)


def test_unknown_entities_are_refused() -> None:
    with pytest.raises(ValueError, match="payments"):
        Sandbox({"payments": []})
    with pytest.raises(KeyError):
        Sandbox({}).records("payments")


def test_mutate_upserts_and_deletes_between_syncs(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"owners": [{"id": "o1", "v": 1}, {"id": "o2", "v": 1}, "junk"]})
    sandbox.mutate("owners", upsert=[{"id": "o2", "v": 2}, {"id": "o3", "v": 1}], delete_ids=["o1"])
    expected = [{"id": "o2", "v": 2}, "junk", {"id": "o3", "v": 1}]
    assert sandbox.records("owners") == expected
    assert get(http, sandbox, "/owners").json()["data"] == expected
    with pytest.raises(ValueError):
        sandbox.mutate("owners", upsert=[{"v": 3}])


def test_every_request_is_logged(sandbox_factory: Factory, http: requests.Session) -> None:
    sandbox = sandbox_factory({"expenses": numbered(3)})
    get(http, sandbox, "/expenses", page_number=2, filter_date_from="2024-01-01")
    get(http, sandbox, "/expenses", headers={})
    assert [(e.method, e.path, e.query, e.status) for e in sandbox.requests] == [
        ("GET", "/api/expenses", {"page_number": "2", "filter_date_from": "2024-01-01"}, 200),
        ("GET", "/api/expenses", {}, 401),
    ]
    sandbox.reset_requests()
    assert sandbox.requests == []


def test_stop_closes_kept_alive_connections(http: requests.Session) -> None:
    sandbox = Sandbox({}, UNLIMITED)
    base_url = sandbox.start()
    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api")
    assert get(http, sandbox, "/units").status_code == 200
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        http.get(base_url + "/units", headers=AUTH, timeout=5)
