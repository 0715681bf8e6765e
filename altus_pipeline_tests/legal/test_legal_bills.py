"""Sheet Bills: invoices and what was paid against them, bad rows staged with their reasons, and
``get_full_legal_cases`` checked by hand (days in phase, the ledger balance, billed/paid/outstanding)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from openpyxl import Workbook

from altus_pipeline.definitions import build_definitions
from altus_pipeline.kpi.compute import write_snapshot
from altus_pipeline.legal import workbook
from altus_pipeline.legal.bills import bill_id
from altus_pipeline.legal.importer import case_id
from altus_pipeline.legal.workbook import WorkbookError, read_workbook
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import refresh_views
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.legal.test_legal import _all, _run, linked  # noqa: F401  (linked is a fixture)

CASES = ["Case Key", "Property", "Unit", "Tenant Name", "Lease DoorLoop ID", "Phase", "Phase Date", "Documents"]
BILLS = ["Invoice Number", "Case Key", "Invoice Date", "Due Date", "Amount", "Paid Amount"]


def write_book(
    path: Path,
    cases: list[list],
    bills: list[list] | None,
    bills_header: list[str] = BILLS,
    cases_header: list[str] = CASES,
) -> Path:
    """A workbook with sheet Cases and, unless ``bills`` is None, sheet Bills."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Cases"
    for row in [cases_header, *cases]:
        sheet.append(row)
    if bills is not None:
        sheet = book.create_sheet("Bills")
        for row in [bills_header, *bills]:
            sheet.append(row)
    book.save(path)
    return path


def _ref(value: object) -> object:
    return value.get("id") if isinstance(value, dict) else value


def ledger_balance(dataset: dict[str, list], lease: str, day: dt.date) -> Decimal:
    """The lease balance of docs/kpis.md computed from the DoorLoop records themselves."""

    def amount(record: dict) -> Decimal:
        lines = record.get("lines") or []
        return (
            sum((Decimal(str(x["amount"])) for x in lines), Decimal(0))
            if lines
            else Decimal(str(record.get("totalAmount") or 0))
        )

    def dated(entity: str) -> list[dict]:
        return [r for r in dataset[entity] if _ref(r.get("lease")) == lease and r["date"] <= day.isoformat()]

    return (
        sum((amount(r) for r in dated("lease_charges")), Decimal(0))
        - sum((amount(r) for r in dated("lease_credits")), Decimal(0))
        - sum((Decimal(str(r["amountReceived"])) for r in dated("lease_payments")), Decimal(0))
        + sum((amount(r) for r in dated("lease_reversed_payments")), Decimal(0))
    )


def test_bills_and_allocations_load_bad_rows_stay_staged_and_the_view_adds_up(
    warehouse, linked, small_dataset, tmp_path
):
    (prop, unit, tenant, _, lease_id, tenant_id, unit_id, prop_id), other = linked
    (tmp_path / "notice.pdf").write_bytes(b"%PDF-1.4 notice")
    cases = [
        ["EV-1", prop, unit, tenant, None, "Notice Served", dt.date(2026, 9, 1), "notice.pdf"],
        ["EV-2", None, None, None, other[3], "settled", "2026-09-03", None],
    ]
    bills = [
        ["INV-1", "EV-1", dt.date(2026, 9, 5), dt.date(2026, 10, 5), "1,000.00", 400],
        ["INV-2", "EV-1", "2026-09-10", None, 250, None],
        ["INV-3", "EV-9", "2026-09-10", None, 90, 0],
        ["INV-4", "EV-2", "2026-09-11", None, -5, None],
        ["INV-5", "EV-2", None, None, 100, 150],
        ["INV-1", "EV-1", "2026-09-12", None, 70, None],
        ["INV-6", "EV-2", "2026-09-12", "2026-09-01", 80, None],
        ["INV-7", "EV-2", "2026-09-15", None, 300, "300"],
    ]
    path = write_book(tmp_path / "cases.xlsx", cases, bills)
    summary = _run(warehouse, path)
    meta = summary.materializations["legal_case_bills"]
    assert (
        meta["rows_in_workbook"],
        meta["bill_rows_in_workbook"],
        meta["rows_processed"],
        meta["rows_with_errors"],
        meta["bills_written"],
        meta["allocations_appended"],
    ) == (10, 8, 5, 5, 3, 2)
    assert all(summary.checks.values()), summary.checks
    assert {
        "legal_case_bills:bill_cases_exist",
        "legal_case_bills:paid_within_amount",
        "legal_bill_allocations:allocations_sum_to_paid",
    } <= set(summary.checks)

    staged = {
        n: (status, [e["message"] for e in errors])
        for n, status, errors in _all(
            warehouse, "SELECT row_number, status, errors FROM legal_case_import_staging WHERE sheet = 'Bills'"
        )
    }
    assert staged == {
        2: ("processed", []),
        3: ("processed", []),
        4: ("error", ["Bills row 4 (INV-3): Case Key 'EV-9': no such case (import its Cases row first)"]),
        5: ("error", ["Bills row 5 (INV-4): Amount -5 is negative (an amount billed or paid is zero or more)"]),
        6: (
            "error",
            [
                "Bills row 6 (INV-5): Invoice Date is required",
                "Bills row 6 (INV-5): Paid Amount 150.00 is more than the amount billed, 100.00",
            ],
        ),
        7: (
            "error",
            ["Bills row 7 (INV-1): Invoice Number is also on row 2; an invoice is one row (edit that row instead)"],
        ),
        8: ("error", ["Bills row 8 (INV-6): Due Date 2026-09-01 is before the invoice date 2026-09-12"]),
        9: ("processed", []),
    }
    assert _all(
        warehouse,
        "SELECT invoice_number, case_id, invoice_date, due_date, amount, paid_amount "
        "FROM legal_case_bills ORDER BY invoice_number",
    ) == [
        ("INV-1", case_id("EV-1"), dt.date(2026, 9, 5), dt.date(2026, 10, 5), Decimal("1000.00"), Decimal("400.00")),
        ("INV-2", case_id("EV-1"), dt.date(2026, 9, 10), None, Decimal("250.00"), Decimal("0.00")),
        ("INV-7", case_id("EV-2"), dt.date(2026, 9, 15), None, Decimal("300.00"), Decimal("300.00")),
    ]

    # payments change: each difference is allocated to its invoice; the same workbook again writes nothing
    bills[0][5], bills[7][5] = 900, 200
    again = _run(warehouse, write_book(path, cases, bills)).materializations["legal_case_bills"]
    assert (again["rows_new_or_changed"], again["bills_written"], again["allocations_appended"]) == (2, 2, 2)
    allocations = _all(warehouse, "SELECT bill_id, amount FROM legal_bill_allocations ORDER BY id")
    assert allocations == [
        (bill_id("INV-1"), Decimal("400.00")),
        (bill_id("INV-7"), Decimal("300.00")),
        (bill_id("INV-1"), Decimal("500.00")),
        (bill_id("INV-7"), Decimal("-100.00")),
    ]
    staging = _all(warehouse, "SELECT * FROM legal_case_import_staging ORDER BY id")
    settled = _run(warehouse, path).materializations["legal_case_bills"]
    assert (settled["rows_new_or_changed"], settled["bills_written"], settled["allocations_appended"]) == (0, 0, 0)
    assert _all(warehouse, "SELECT * FROM legal_case_import_staging ORDER BY id") == staging
    assert len(_all(warehouse, "SELECT * FROM legal_bill_allocations")) == 4
    with warehouse.connect() as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("DELETE FROM legal_bill_allocations")

    # the view, by hand: the balance is the lease ledger as of the latest KPI date
    as_of = dt.date(2026, 10, 15)
    with warehouse.connect() as conn:
        write_snapshot(conn, as_of, as_of)
        today = conn.execute("SELECT current_date").fetchone()[0]
        owners = conn.execute(
            "SELECT array_agg(o.id ORDER BY coalesce(o.full_name, o.name), o.id), "
            "string_agg(coalesce(o.full_name, o.name), ', ' ORDER BY coalesce(o.full_name, o.name), o.id) "
            "FROM normalized_property_owners po JOIN normalized_owners o ON o.id = po.owner_id "
            "WHERE po.property_id = %s",
            (prop_id,),
        ).fetchone()
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    refreshed = refresh_views(defs, dg.DagsterInstance.ephemeral(), ["get_full_legal_cases"])
    assert refreshed.checks["get_full_legal_cases:row_count_matches_base"] is True
    again = refresh_views(defs, dg.DagsterInstance.ephemeral(), ["get_full_legal_cases"])
    assert again.materializations["get_full_legal_cases"]["concurrently"] is True  # its unique index allows it
    view = {
        r[0]: r[1:]
        for r in _all(
            warehouse,
            "SELECT case_key, case_id, status, current_phase, phase_started_on, days_in_phase, tenant_id, "
            "tenant_name, unit_id, unit_name, property_id, property_name, owner_ids, owner_name, "
            "tenant_balance, balance_as_of, billed_amount, paid_amount, outstanding_amount, documents_filed "
            "FROM get_full_legal_cases",
        )
    }
    assert set(view) == {"EV-1", "EV-2"}
    assert view["EV-1"] == (
        case_id("EV-1"),
        "open",
        "notice_served",
        dt.date(2026, 9, 1),
        (today - dt.date(2026, 9, 1)).days,
        tenant_id,
        tenant,
        unit_id,
        unit,
        prop_id,
        prop,
        *owners,
        ledger_balance(small_dataset, linked[0][3], as_of),
        as_of,
        Decimal("1250.00"),
        Decimal("900.00"),
        Decimal("350.00"),
        1,
    )
    linked_tenant = _all(warehouse, "SELECT tenant_id FROM legal_cases WHERE case_key = 'EV-2'")[0][0]
    assert view["EV-2"][1:6] == (
        "closed",
        "settled",
        dt.date(2026, 9, 3),
        (today - dt.date(2026, 9, 3)).days,
        linked_tenant,
    )
    assert view["EV-2"][13:] == (
        ledger_balance(small_dataset, other[3], as_of),
        as_of,
        Decimal("300.00"),
        Decimal("200.00"),
        Decimal("100.00"),
        0,
    )


def test_bill_checks_fail_on_bills_that_break_their_rules(warehouse):
    with warehouse.connect() as conn:
        conn.execute(
            "INSERT INTO legal_cases (id, case_key, current_phase, phase_date) "
            "VALUES (%s, 'EV-1', 'referral', '2026-09-01')",
            (case_id("EV-1"),),
        )
        conn.execute(
            "INSERT INTO legal_case_bills (id, invoice_number, case_id, invoice_date, amount, paid_amount) "
            "VALUES (%s, 'INV-1', %s, '2026-09-05', 100, 40)",
            (bill_id("INV-1"), case_id("EV-1")),
        )
        conn.execute("INSERT INTO legal_bill_allocations (bill_id, amount) VALUES (%s, 40)", (bill_id("INV-1"),))
    assert set(_run_checks_only(warehouse).values()) == {True}
    with warehouse.connect() as conn:
        conn.execute("UPDATE legal_case_bills SET paid_amount = 120")
        conn.execute("ALTER TABLE legal_case_bills DROP CONSTRAINT legal_case_bills_case_id_fkey")
        conn.execute("UPDATE legal_case_bills SET case_id = gen_random_uuid()")
    assert _run_checks_only(warehouse) == {
        "legal_case_bills:bill_cases_exist": False,
        "legal_case_bills:paid_within_amount": False,
        "legal_bill_allocations:allocations_sum_to_paid": False,
    }


def _run_checks_only(warehouse: Warehouse) -> dict[str, bool]:
    """Each bill check evaluated on the warehouse as it is (no import first)."""
    from altus_pipeline.checks.legal import bill_checks

    resource = WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema)
    results = {}
    for check in bill_checks:
        result = check(warehouse=resource)
        results[f"{check.spec.asset_key.to_user_string()}:{check.spec.name}"] = result.passed
    return results


def test_a_workbook_without_bills_reads_its_cases_and_the_bills_sheet_is_bounded(tmp_path, monkeypatch):
    plain = write_book(
        tmp_path / "plain.xlsx", [["EV-1", None, None, None, None, "referral", "2026-09-01", None]], None
    )
    assert [r.sheet for r in read_workbook(plain)] == ["Cases"]
    keyless = write_book(
        tmp_path / "keyless.xlsx", [], [["EV-1", "2026-09-01", 10]], ["Case Key", "Invoice Date", "Amount"]
    )
    with pytest.raises(WorkbookError, match=r"^keyless.xlsx: sheet 'Bills' has no 'Invoice Number' column on row 1$"):
        list(read_workbook(keyless))
    monkeypatch.setattr(workbook, "MAX_ROWS", 2)
    long = write_book(tmp_path / "long.xlsx", [], [[f"INV-{i}", "EV-1", "2026-09-01", 10, None] for i in range(3)])
    with pytest.raises(WorkbookError, match=r"^long.xlsx: sheet 'Bills' has more than 2 rows; split it$"):
        list(read_workbook(long))
