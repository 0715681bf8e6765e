"""An import heals: rows in error are validated again on every import, and one whose cause is gone
(the document put in its folder, the tenant synced since) takes effect once, without the workbook
changing; a row still bad keeps its latest reasons, and a settled re-import writes nothing."""

from __future__ import annotations

import copy
from pathlib import Path

from altus_pipeline.legal.documents import LocalStore
from altus_pipeline.legal.importer import case_id, import_workbook, pending_error_rows
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.legal.test_legal import _all, linked  # noqa: F401  (linked is a fixture)
from altus_pipeline_tests.legal.test_legal_bills import write_book
from altus_pipeline_tests.normalized.test_normalized import normalize_direct
from altus_pipeline_tests.support.raw import load_raw

HEADER = ["Case Key", "Property", "Unit", "Tenant Name", "Tenant DoorLoop ID", "Phase", "Phase Date", "Documents"]
NEWCOMER = "aaaaaaaaaaaaaaaaaaaaaaaa"


def _import(warehouse: Warehouse, path: Path, store: Path) -> dict:
    with warehouse.connect() as conn:
        result = import_workbook(conn, path, "test-run", LocalStore(store))
        conn.commit()
        return {**result.metadata(), "pending_error_rows": pending_error_rows(conn)}


def _staging(warehouse: Warehouse) -> list[tuple]:
    return _all(warehouse, "SELECT * FROM legal_case_import_staging ORDER BY id")


def _counts(warehouse: Warehouse) -> tuple[int, int]:
    return _all(
        warehouse, "SELECT (SELECT count(*) FROM legal_case_phase_history), (SELECT count(*) FROM legal_case_documents)"
    )[0]


def test_a_row_missing_its_document_heals_when_the_file_appears(warehouse, linked, tmp_path):
    prop, unit, tenant = linked[0][:3]
    cases = [
        ["EV-1", prop, unit, tenant, None, "notice served", "2026-09-01", "notice.pdf"],
        ["EV-5", prop, unit, tenant, None, "referral", "soon", None],
    ]
    path = write_book(tmp_path / "cases.xlsx", cases, None, cases_header=HEADER)
    first = _import(warehouse, path, tmp_path / "store")
    assert (first["rows_processed"], first["rows_with_errors"], first["pending_error_rows"]) == (0, 2, 1)
    assert _counts(warehouse) == (0, 0)

    # nothing changed: the rows in error are validated again, and nothing is written
    before = _staging(warehouse)
    assert _import(warehouse, path, tmp_path / "store")["rows_healed"] == 0
    assert _staging(warehouse) == before

    (tmp_path / "notice.pdf").write_bytes(b"%PDF-1.4 notice")
    healed = _import(warehouse, path, tmp_path / "store")
    assert (
        healed["rows_new_or_changed"],
        healed["rows_healed"],
        healed["history_appended"],
        healed["documents_filed"],
        healed["pending_error_rows"],
    ) == (0, 1, 1, 1, 0)
    staged = _all(warehouse, "SELECT row_number, status, errors FROM legal_case_import_staging ORDER BY row_number")
    assert staged == [
        (2, "processed", []),
        (
            3,
            "error",
            [{"field": "Phase Date", "message": "row 3 (EV-5): Phase Date 'soon' is not a date (YYYY-MM-DD)"}],
        ),
    ]
    assert _all(warehouse, "SELECT current_phase FROM legal_cases WHERE id = %s", case_id("EV-1")) == [
        ("notice_served",)
    ]
    assert _counts(warehouse) == (1, 1)

    # settled: history appended once, the document filed once, staging untouched
    before = _staging(warehouse)
    again = _import(warehouse, path, tmp_path / "store")
    assert (again["rows_healed"], again["history_appended"], again["documents_filed"]) == (0, 0, 0)
    assert _staging(warehouse) == before and _counts(warehouse) == (1, 1)


def test_a_row_for_an_unknown_tenant_heals_after_the_next_sync(warehouse, linked, small_dataset, tmp_path):
    cases = [["EV-1", None, None, None, NEWCOMER, "referral", "2026-09-01", "referral.pdf"]]
    bills = [["INV-1", "EV-1", "2026-09-05", None, 500, 100]]
    path = write_book(tmp_path / "cases.xlsx", cases, bills, cases_header=HEADER)
    first = _import(warehouse, path, tmp_path / "store")
    assert (first["rows_with_errors"], first["pending_error_rows"]) == (2, 2)
    reasons = dict(_all(warehouse, "SELECT sheet, errors -> 0 ->> 'message' FROM legal_case_import_staging"))
    assert reasons == {
        "Cases": f"row 2 (EV-1): Documents 'referral.pdf': no such file in the documents folder {tmp_path.name!r}",
        "Bills": "Bills row 2 (INV-1): Case Key 'EV-1': no such case (import its Cases row first)",
    }

    # the document arrives: the row is still bad, now for its tenant, and says so
    (tmp_path / "referral.pdf").write_bytes(b"%PDF-1.4 referral")
    second = _import(warehouse, path, tmp_path / "store")
    assert (second["rows_healed"], second["pending_error_rows"]) == (0, 2)
    assert _all(warehouse, "SELECT errors -> 0 ->> 'message' FROM legal_case_import_staging WHERE sheet = 'Cases'") == [
        (f"row 2 (EV-1): Tenant DoorLoop ID {NEWCOMER}: no such tenant in the warehouse",)
    ]

    # the tenant comes with the next sync and normalize; the workbook is not touched
    newcomer = {
        **copy.deepcopy(small_dataset["tenants"][0]),
        "id": NEWCOMER,
        "firstName": "Late",
        "lastName": "Arrival",
        "name": "Late Arrival",
        "fullName": "Late Arrival",
    }
    load_raw(warehouse, {"tenants": [*small_dataset["tenants"], newcomer]})
    normalize_direct(warehouse)
    healed = _import(warehouse, path, tmp_path / "store")
    assert (
        healed["rows_new_or_changed"],
        healed["rows_healed"],
        healed["history_appended"],
        healed["documents_filed"],
        healed["bills_written"],
        healed["pending_error_rows"],
    ) == (0, 2, 1, 1, 1, 0)
    assert _all(
        warehouse,
        "SELECT c.tenant_doorloop_id, t.full_name FROM legal_cases c JOIN normalized_tenants t ON t.id = c.tenant_id",
    ) == [(NEWCOMER, "Late Arrival")]
    assert _all(warehouse, "SELECT DISTINCT status FROM legal_case_import_staging") == [("processed",)]
    assert _counts(warehouse) == (1, 1)
    again = _import(warehouse, path, tmp_path / "store")
    assert (again["rows_healed"], again["history_appended"], again["bills_written"]) == (0, 0, 0)
    assert _counts(warehouse) == (1, 1)
