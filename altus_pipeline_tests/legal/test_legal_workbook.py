"""The legal workbook as input: refused in one line when it is not a workbook, names a column
twice or is past a bound; negative amounts are row errors; staging is keyed by the workbook's
resolved path, and rows staged by name before that are taken over, not staged again."""

from __future__ import annotations

import subprocess
import time
import zipfile
from pathlib import Path

import dagster as dg
import pytest

from altus_pipeline.assets.legal import failure_reason
from altus_pipeline.definitions import build_definitions
from altus_pipeline.legal import workbook
from altus_pipeline.legal.documents import LocalStore
from altus_pipeline.legal.importer import import_workbook, parse_row
from altus_pipeline.legal.workbook import SheetRow, WorkbookError, read_cases
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import legal_import
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import migrate
from altus_pipeline_tests.legal.test_legal import _all, write_workbook
from altus_pipeline_tests.raw.test_raw import ALTUS, REPO

HEADER = ["Case Key", "Phase", "Phase Date", "Amount Owed", "Judgment Amount", "Notes"]


def _import(warehouse: Warehouse, path: Path, tmp_path: Path) -> dict:
    with warehouse.connect() as conn:
        result = import_workbook(conn, path, "test-run", LocalStore(tmp_path / "store"))
        conn.commit()
    return result.metadata()


def test_a_column_named_twice_is_refused_naming_both(tmp_path):
    header = ["Case Key", "Phase", "Phase Date", "Amount Owed", "Notes", "amount_owed"]
    path = write_workbook(tmp_path / "cases.xlsx", [["EV-1", "filed", "2026-09-01", 10, "x", 99]], header)
    with pytest.raises(
        WorkbookError,
        match=r"^cases.xlsx: columns D \('Amount Owed'\) and F \('amount_owed'\) "
        r"of sheet 'Cases' are the same column; keep one$",
    ):
        list(read_cases(path))
    same = write_workbook(tmp_path / "same.xlsx", [["EV-1", "a", "b"]], ["Case Key", "Notes", "Notes"])
    with pytest.raises(WorkbookError, match=r"columns B \('Notes'\) and C \('Notes'\)"):
        list(read_cases(same))


def test_negative_amounts_are_row_errors_naming_row_case_and_column():
    row = SheetRow(
        7,
        {
            "Case Key": "EV-1",
            "Phase": "filed",
            "Phase Date": "2026-09-01",
            "Amount Owed": "-1,200.00",
            "Judgment Amount": -5,
            "Notes": None,
        },
    )
    parsed = parse_row(1, row)
    assert [e["message"] for e in parsed.errors] == [
        "row 7 (EV-1): Amount Owed '-1,200.00' is negative (an amount owed or awarded is zero or more)",
        "row 7 (EV-1): Judgment Amount -5 is negative (an amount owed or awarded is zero or more)",
    ]
    assert parse_row(1, SheetRow(7, {**row.raw, "Amount Owed": 0, "Judgment Amount": "12.5"})).errors == []


def test_workbooks_of_the_same_name_in_other_folders_keep_their_own_rows(warehouse, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "other").mkdir()
    docs = write_workbook(
        tmp_path / "docs" / "cases.xlsx", [["EV-1", "filed", "2026-09-01", -3], ["EV-2", "filed", "2026-09-01"]], HEADER
    )
    other = write_workbook(tmp_path / "other" / "cases.xlsx", [["OT-1", "referral", "2026-09-05"]], HEADER)
    assert _import(warehouse, docs, tmp_path)["rows_new_or_changed"] == 2
    assert _import(warehouse, other, tmp_path)["rows_new_or_changed"] == 1
    staged = _all(
        warehouse,
        "SELECT workbook_path, file_name, row_number, case_key FROM legal_case_import_staging "
        "ORDER BY workbook_path, row_number",
    )
    assert staged == [
        (str(docs.resolve()), "cases.xlsx", 2, "EV-1"),
        (str(docs.resolve()), "cases.xlsx", 3, "EV-2"),
        (str(other.resolve()), "cases.xlsx", 2, "OT-1"),
    ]
    messages = _all(
        warehouse,
        "SELECT e ->> 'message' FROM legal_case_import_staging, jsonb_array_elements(errors) e WHERE case_key = 'EV-1'",
    )
    assert ("row 2 (EV-1): Amount Owed -3 is negative (an amount owed or awarded is zero or more)",) in messages
    # each workbook again: nothing of either was overwritten, so nothing is new
    assert _import(warehouse, docs, tmp_path)["rows_new_or_changed"] == 0
    assert _import(warehouse, other, tmp_path)["rows_new_or_changed"] == 0


def test_rows_staged_by_file_name_before_the_upgrade_are_taken_over(warehouse, tmp_path):
    path = write_workbook(
        tmp_path / "cases.xlsx", [["EV-1", "filed", "2026-09-01"], ["EV-2", "filed", "2026-09-01"]], HEADER
    )
    _import(warehouse, path, tmp_path)
    staged = "SELECT id, row_number, row_hash, status, errors FROM legal_case_import_staging ORDER BY id"
    before = _all(warehouse, staged)
    with warehouse.connect() as conn:  # back to the shape of the tables before this change
        conn.execute("DROP INDEX legal_case_import_staging_row_key")
        conn.execute("ALTER TABLE legal_case_import_staging DROP COLUMN workbook_path")
        conn.execute(
            "ALTER TABLE legal_case_import_staging ADD CONSTRAINT legal_case_import_staging_row_key "
            "UNIQUE (file_name, sheet, row_number)"
        )
        conn.execute("ALTER TABLE legal_case_documents DROP COLUMN source_path")
        conn.execute(
            "INSERT INTO legal_cases (id, case_key, current_phase, phase_date) "
            "VALUES (gen_random_uuid(), 'OLD-1', 'filed', '2026-01-01')"
        )
        conn.execute(
            "INSERT INTO legal_case_documents (case_id, phase, local_name, dropbox_path, file_id, rev, "
            "content_hash, size) SELECT id, 'filed', 'old.pdf', '/Legal/P/OLD-1/filed/old.pdf', 'x', '1', "
            "'h', 1 FROM legal_cases"
        )
        conn.execute("UPDATE doorloop_schema_migrations SET checksum = 'old' WHERE object_name LIKE 'legal_%'")
        conn.commit()
    applied = migrate(warehouse)
    assert {"legal_case_import_staging", "legal_case_documents"} <= set(applied)
    assert migrate(warehouse) == []
    assert _all(warehouse, "SELECT source_path FROM legal_case_documents") == [("old.pdf",)]
    meta = _import(warehouse, path, tmp_path)
    assert (meta["rows_in_workbook"], meta["rows_new_or_changed"], meta["rows_processed"]) == (2, 0, 0)
    assert _all(warehouse, staged) == before
    assert _all(warehouse, "SELECT DISTINCT workbook_path FROM legal_case_import_staging") == [(str(path.resolve()),)]


def test_a_renamed_text_file_is_one_line_through_the_asset_and_the_cli(warehouse, tmp_path, dagster_storage):
    text = tmp_path / "cases.xlsx"
    text.write_text("Case Key,Phase\nEV-1,filed\n")
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    instance = dg.DagsterInstance.ephemeral()
    summary = legal_import(defs, instance, str(text), raise_on_error=False)
    assert not summary.success
    expected = (
        "cases.xlsx: a text file (a CSV or text export renamed .xlsx?), not an .xlsx workbook; save it from "
        "Excel as .xlsx (without a password)"
    )
    assert failure_reason(instance, summary.run_id) == expected
    failure = instance.all_logs(summary.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)[0]
    assert failure.dagster_event.step_failure_data.error.cause is None  # no chained traceback behind it

    env = {
        "ALTUS_DATABASE_URL": warehouse.url,
        "ALTUS_SCHEMA": warehouse.schema,
        "ALTUS_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [ALTUS, "legal", "import", str(text)], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert (
        done.stdout == "" and done.stderr.startswith(f"Error: {expected} (run ") and len(done.stderr.splitlines()) == 1
    ), done.stderr[-3000:]


@pytest.mark.parametrize(
    "bound, value, cells, message",
    [
        ("MAX_ROWS", 2, None, "cases.xlsx: sheet 'Cases' has more than 2 rows; split it"),
        ("MAX_COLUMNS", 5, None, "cases.xlsx: sheet 'Cases' has 6 columns, over the limit of 5"),
        ("MAX_CELL_CHARS", 20, "x" * 21, "cases.xlsx: cell F3 (Notes) holds 21 characters, over the limit of 20"),
        ("MAX_FILE_BYTES", 1000, None, "over the 1,000-byte limit for a workbook"),
        ("MAX_UNPACKED_BYTES", 5000, None, "over the 5,000-byte limit for a workbook"),
    ],
)
def test_a_workbook_past_a_bound_is_refused(tmp_path, monkeypatch, bound, value, cells, message):
    monkeypatch.setattr(workbook, bound, value)
    rows = [
        ["EV-1", "filed", "2026-09-01"],
        ["EV-2", "filed", "2026-09-01", None, None, cells or "ok"],
        ["EV-3", "filed", "2026-09-01"],
    ]
    path = write_workbook(tmp_path / "cases.xlsx", rows, HEADER)
    with pytest.raises(WorkbookError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_cases(path))


def _with_member(path: Path, name: str, data: bytes) -> Path:
    """``path`` rewritten with member ``name`` replaced by ``data``."""
    with zipfile.ZipFile(path) as source:
        members = {m.filename: source.read(m) for m in source.infolist()}
    members[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for member, content in members.items():
            target.writestr(member, content)
    return path


@pytest.mark.timeout(60)
def test_a_hostile_workbook_is_refused_or_read_in_bounded_time(tmp_path):
    # a 90 MB shared string, 90 kB zipped: refused before any of it is read
    path = write_workbook(tmp_path / "bomb.xlsx", [["EV-1", "filed", "2026-09-01", None, None, "note"]], HEADER)
    strings = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
        + b"a" * (90 << 20)
        + b"</t></si></sst>"
    )
    _with_member(path, "xl/sharedStrings.xml", strings)
    assert path.stat().st_size < 1 << 20
    started = time.monotonic()
    with pytest.raises(WorkbookError, match="bomb.xlsx: unpacks to .* bytes, over the 83,886,080-byte limit"):
        list(read_cases(path))
    assert time.monotonic() - started < 2

    # one cell at Excel's last row and column: the declared used range is 1M rows by 16k columns
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Cases"
    book.active.append(["Case Key", "Phase"])
    book.active["XFD1048576"] = "far away"
    book.save(tmp_path / "wide.xlsx")
    started = time.monotonic()
    assert list(read_cases(tmp_path / "wide.xlsx")) == []
    assert time.monotonic() - started < 10
