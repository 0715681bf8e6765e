"""Excel both ways: the export of the cases (read back with pandas) and the empty template."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest

from altus_pipeline.assets.legal_export import LEGAL_EXPORT, NOT_CONFIGURED
from altus_pipeline.assets.views import refresh_view
from altus_pipeline.definitions import build_definitions
from altus_pipeline.legal import export
from altus_pipeline.legal.export import EXPORT_HEADERS, NOT_REFRESHED, VIEW, ExportError, export_cases
from altus_pipeline.legal.phases import PHASES
from altus_pipeline.legal.template import BILLS_HEADERS, CASES_HEADERS, write_template
from altus_pipeline.legal.workbook import COLUMNS, header_key
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import run_job
from altus_pipeline.sensors.launch import ASSET_JOB
from altus_pipeline_tests.legal.test_legal import _all, _run, linked, write_workbook  # noqa: F401  (``linked`` is a fixture)
from altus_pipeline_tests.raw.test_raw import ALTUS, REPO

HEADER = [
    "Case Key",
    "Property",
    "Unit",
    "Tenant Name",
    "Lease DoorLoop ID",
    "Phase",
    "Phase Date",
    "Amount Owed",
    "Documents",
    "Notes",
]
# the warehouse's columns of the export and the view's column each is read from
FROM_VIEW = {
    "Status": "status",
    "Days In Phase": "days_in_phase",
    "Owner": "owner_name",
    "Tenant Balance": "tenant_balance",
    "Billed": "billed_amount",
    "Paid": "paid_amount",
    "Outstanding": "outstanding_amount",
    "Property": "property_name",
    "Unit": "unit_name",
    "Tenant Name": "tenant_name",
}

TEXT = {h: str for h in ("Unit", "Docket Number", "Tenant DoorLoop ID", "Lease DoorLoop ID")}  # "205" is a name


@pytest.fixture
def cases(warehouse, linked, tmp_path, monkeypatch):  # noqa: F811
    """Three imported cases (open, paused, closed) seen by the view, a fourth imported after its refresh."""
    monkeypatch.setenv("ALTUS_HOME", str(tmp_path / "home"))  # the local document store
    (prop, unit, tenant, *_), other = linked
    (tmp_path / "notice.pdf").write_bytes(b"%PDF-1.4 notice")
    rows = [
        ["EV-1", prop, unit, tenant, None, "referral", "2026-09-01", "1,250.50", "notice.pdf", "first"],
        ["EV-1", None, None, None, None, "Hearing Scheduled", dt.date(2026, 10, 1), None, None, None],
        ["EV-2", None, None, None, other[3], "filed", "2026-09-02", None, None, None],
        ["EV-2", None, None, None, None, "bankruptcy_stay", "2026-09-05", None, None, None],
        ["EV-3", None, None, None, other[3], "notice_served", "2026-08-01", None, None, None],
        ["EV-3", None, None, None, None, "settled", "2026-08-15", None, None, None],
    ]
    path = _with_bills(write_workbook(tmp_path / "cases.xlsx", rows, HEADER))
    assert _run(warehouse, path).materializations["legal_cases"]["rows_with_errors"] == 0
    refresh_view(warehouse, VIEW)
    rows.append(["EV-4", prop, unit, tenant, None, "referral", "2026-11-01", None, None, None])
    _run(warehouse, _with_bills(write_workbook(path, rows, HEADER)))
    return linked


def _with_bills(path: Path) -> Path:
    """Two invoices of EV-1: 800.00 billed, 200.00 paid."""
    book = openpyxl.load_workbook(path)
    bills = book.create_sheet("Bills")
    for row in (
        BILLS_HEADERS,
        ("INV-1", "EV-1", "2026-09-10", "2026-10-10", 500, 200),
        ("INV-2", "EV-1", "2026-09-20", "2026-10-20", "300.00", 0),
    ):
        bills.append(list(row))
    book.save(path)
    return path


def test_export_holds_every_case_by_status_with_the_warehouse_columns(
    warehouse, cases, tmp_path, monkeypatch, dagster_storage
):
    (prop, unit, tenant, *_), _ = cases
    (tmp_path / "refused").mkdir()
    _refused(warehouse, tmp_path / "refused" / "cases.xlsx", monkeypatch)
    out = tmp_path / "out" / "legal cases.xlsx"
    with warehouse.connect() as conn:
        result = export_cases(conn, out)
    assert (result.cases, result.sheets) == (4, {"open": 1, "paused": 1, "closed": 1, NOT_REFRESHED: 1})

    sheets = pd.read_excel(out, sheet_name=None, dtype=TEXT)
    assert list(sheets) == ["open", "paused", "closed", NOT_REFRESHED]
    assert all(list(frame.columns) == list(EXPORT_HEADERS) for frame in sheets.values())
    frame = pd.concat(sheets.values(), ignore_index=True).set_index("Case Key")
    assert sorted(frame.index) == ["EV-1", "EV-2", "EV-3", "EV-4"]

    ev1 = frame.loc["EV-1"]
    assert (ev1["Phase"], ev1["Phase Date"], ev1["Amount Owed"], ev1["Notes"]) == (
        "hearing_scheduled",
        pd.Timestamp("2026-10-01"),
        1250.5,
        "first",
    )
    assert (ev1["Property"], ev1["Unit"], ev1["Tenant Name"]) == (prop, unit, tenant)
    assert ev1["Phase History"] == (
        "referral 2026-09-01 → (notice_served) → (filed) → (summons_served) → hearing_scheduled 2026-10-01"
    )
    assert ev1["Documents"] == "notice.pdf"  # the workbook's own column: copied back, it imports the same
    assert ev1["Document Links"] == f"/Legal/{prop}/EV-1/referral/notice.pdf"
    assert (ev1["Billed"], ev1["Paid"], ev1["Outstanding"]) == (800, 200, 600)
    assert frame.loc["EV-2", "Phase History"] == "filed 2026-09-02 → bankruptcy_stay 2026-09-05"
    assert frame.loc["EV-2", "Lease DoorLoop ID"] == cases[1][3]

    view = {r[0]: r[1:] for r in _all(warehouse, f"SELECT case_key, {', '.join(FROM_VIEW.values())} FROM {VIEW}")}
    assert set(view) == {"EV-1", "EV-2", "EV-3"}
    for key, values in view.items():
        for header, value in zip(FROM_VIEW, values, strict=True):
            shown = frame.loc[key, header]
            expected = float(value) if header in ("Tenant Balance", "Billed", "Paid", "Outstanding") else value
            assert shown == (pytest.approx(expected) if isinstance(expected, float) else expected), (key, header)
    assert frame.loc["EV-4", "Status"] == NOT_REFRESHED and pd.isna(frame.loc["EV-4", "Tenant Balance"])

    sheet = openpyxl.load_workbook(out)["open"]
    phase_date = sheet.cell(row=2, column=EXPORT_HEADERS.index("Phase Date") + 1)
    assert isinstance(phase_date.value, dt.datetime) and phase_date.number_format == "yyyy-mm-dd"
    assert sheet.column_dimensions["A"].width >= len("Case Key") and sheet.freeze_panes == "A2"
    _asset_and_cli(warehouse, tmp_path, monkeypatch)


def _refused(warehouse, out: Path, monkeypatch) -> None:
    """A failed write leaves the previous export whole (and no temporary file); past the bound,
    or not an .xlsx, nothing is written."""
    out.write_bytes(b"the previous export")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with warehouse.connect() as conn, monkeypatch.context() as patch:
        patch.setattr(export, "style_sheet", broken)
        with pytest.raises(OSError, match="disk full"):
            export_cases(conn, out)
        assert out.read_bytes() == b"the previous export" and [p.name for p in out.parent.iterdir()] == [out.name]
        patch.setattr(export, "MAX_CASES", 3)
        with pytest.raises(ExportError, match="4 legal cases, over the 3 one workbook holds"):
            export_cases(conn, out)
        with pytest.raises(ExportError, match="cases.txt: the export is an .xlsx workbook"):
            export_cases(conn, out.with_name("cases.txt"))
    assert out.read_bytes() == b"the previous export"


def _asset_and_cli(warehouse, tmp_path: Path, monkeypatch) -> None:
    """The asset writes the configured path (after the view, in the same run) or nothing without
    one; the CLI refreshes the view and writes the path it is given."""
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.delenv("ALTUS_LEGAL_EXPORT_PATH", raising=False)
    skipped = run_job(defs, ASSET_JOB, [LEGAL_EXPORT], instance)
    assert skipped.success and LEGAL_EXPORT not in skipped.materializations
    warnings = [e.message for e in instance.all_logs(skipped.run_id) if e.level >= 30]
    assert any(NOT_CONFIGURED in m for m in warnings)

    out = tmp_path / "exports" / "cases.xlsx"
    monkeypatch.setenv("ALTUS_LEGAL_EXPORT_PATH", str(out))
    written = run_job(defs, ASSET_JOB, [VIEW, LEGAL_EXPORT], instance)
    meta = written.materializations[LEGAL_EXPORT]
    assert (meta["cases"], meta["sheet open"], meta["sheet closed"]) == (4, 2, 1)  # EV-4 is in the view now
    assert sorted(pd.concat(pd.read_excel(out, sheet_name=None).values())["Case Key"]) == [
        "EV-1",
        "EV-2",
        "EV-3",
        "EV-4",
    ]

    env = {
        "ALTUS_DATABASE_URL": warehouse.url,
        "ALTUS_SCHEMA": warehouse.schema,
        "ALTUS_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    by_hand = tmp_path / "by hand.xlsx"
    done = subprocess.run(
        [ALTUS, "legal", "export", str(by_hand)], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith(f"wrote {by_hand}: 4 case(s) (open 2, paused 1, closed 1)")
    assert list(pd.read_excel(by_hand, sheet_name=None)) == ["open", "paused", "closed"]


def test_template_has_the_import_columns_and_imports_as_is(warehouse, tmp_path):
    path = write_template(tmp_path / "template.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Cases", "Bills"]
    cases_header = [c.value for c in book["Cases"][1]]
    assert cases_header == list(CASES_HEADERS) and [header_key(h) for h in cases_header] == list(COLUMNS)
    assert (
        [c.value for c in book["Bills"][1]]
        == list(BILLS_HEADERS)
        == ["Invoice Number", "Case Key", "Invoice Date", "Due Date", "Amount", "Paid Amount"]
    )
    [phases] = book["Cases"].data_validations.dataValidation
    phase_column = openpyxl.utils.get_column_letter(cases_header.index("Phase") + 1)
    assert phases.formula1 == f'"{",".join(PHASES)}"' and len(phases.formula1) <= 257  # Excel's inline list limit
    assert str(phases.sqref).startswith(f"{phase_column}2:{phase_column}")

    # the empty template stages nothing and fails nothing
    meta = _run(warehouse, path).materializations["legal_cases"]
    assert (meta["rows_in_workbook"], meta["rows_with_errors"]) == (0, 0)
    assert _all(warehouse, "SELECT count(*) FROM legal_case_import_staging") == [(0,)]

    # filled in under its own headers, each cell is read from its column: the row waits only for its lease
    values = {
        "Case Key": "EV-T",
        "Lease DoorLoop ID": "0123456789abcdef01234567",
        "Phase": "filed",
        "Phase Date": dt.date(2026, 9, 1),
        "Amount Owed": 10,
    }
    book["Cases"].append([values.get(h) for h in cases_header])
    book.save(path)
    meta = _run(warehouse, path).materializations["legal_cases"]
    assert (meta["rows_in_workbook"], meta["rows_with_errors"]) == (1, 1)
    assert _all(warehouse, "SELECT e ->> 'message' FROM legal_case_import_staging, jsonb_array_elements(errors) e") == [
        ("row 2 (EV-T): Lease DoorLoop ID 0123456789abcdef01234567: no such lease in the warehouse",)
    ]
