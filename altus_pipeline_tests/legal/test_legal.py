"""The legal module: phases, the workbook import (staging, cases, history), its checks and CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from openpyxl import Workbook

from altus_pipeline.definitions import build_definitions
from altus_pipeline.legal.documents import stored_name
from altus_pipeline.legal.importer import case_id
from altus_pipeline.legal.phases import PhaseError, Step, move, parse_phase
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import legal_import
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.normalized.test_normalized import load_raw, normalize_direct
from altus_pipeline_tests.raw.test_raw import ALTUS, REPO

HEADER = [
    "Case Key",
    "Property",
    "Unit",
    "Tenant_Name",
    "lease doorloop id",
    "PHASE",
    "Phase Date",
    "Notice Type",
    "Amount Owed",
    "Internal Ref",
]


def write_workbook(path: Path, rows: list[list], header: list[str] = HEADER) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Cases"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_phases_move_forward_with_skips_and_refuse_going_back():
    assert parse_phase("Notice Served") == parse_phase("NOTICE_SERVED") == "notice_served"
    assert parse_phase("eviction") is None
    assert move(None, None, "filed") == [Step(None, "filed")]
    assert move("referral", None, "filed") == [Step("referral", "notice_served", True), Step("notice_served", "filed")]
    assert move("filed", None, "filed") == []
    assert move("judgment", None, "settled") == [Step("judgment", "settled")]
    assert move("filed", None, "bankruptcy_stay") == [Step("filed", "bankruptcy_stay")]
    assert move("bankruptcy_stay", "filed", "filed") == [Step("bankruptcy_stay", "filed")]
    assert move("bankruptcy_stay", "filed", "hearing_scheduled") == [
        Step("bankruptcy_stay", "summons_served", True),
        Step("summons_served", "hearing_scheduled"),
    ]
    with pytest.raises(PhaseError, match="backwards from hearing_scheduled to filed"):
        move("hearing_scheduled", None, "filed")
    with pytest.raises(PhaseError, match="backwards from filed to referral"):
        move("bankruptcy_stay", "filed", "referral")
    with pytest.raises(PhaseError, match="closed \\(dismissed\\)"):
        move("dismissed", None, "judgment")


@pytest.fixture
def linked(warehouse, small_dataset):
    """A normalized warehouse and two tenancies the workbook can name: one by names, one by lease id."""
    load_raw(warehouse, small_dataset)
    normalize_direct(warehouse)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT p.name, u.name, coalesce(t.full_name, t.name), l.doorloop_id, l.id, t.id, u.id, p.id "
            "FROM normalized_lease_tenants lt JOIN normalized_leases l ON l.id = lt.lease_id "
            "JOIN normalized_tenants t ON t.id = lt.tenant_id JOIN normalized_lease_units lu ON lu.lease_id = l.id "
            "JOIN normalized_units u ON u.id = lu.unit_id JOIN normalized_properties p ON p.id = u.property_id "
            "WHERE (SELECT count(*) FROM normalized_properties q WHERE lower(q.name) = lower(p.name)) = 1 "
            "AND (SELECT count(*) FROM normalized_lease_units x WHERE x.lease_id = l.id) = 1 "
            "AND l.start = (SELECT max(l2.start) FROM normalized_lease_tenants lt2 JOIN normalized_leases l2 "
            "  ON l2.id = lt2.lease_id WHERE lt2.tenant_id = t.id) "
            "ORDER BY l.doorloop_id LIMIT 2"
        ).fetchall()
    assert len(rows) == 2
    return rows


def _run(warehouse: Warehouse, path: Path):
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    summary = legal_import(defs, dg.DagsterInstance.ephemeral(), str(path))
    assert summary.success
    return summary


def _all(wh: Warehouse, query: str, *params):
    with wh.connect() as conn:
        return conn.execute(query, params).fetchall()


def test_workbook_import_stages_every_row_moves_cases_and_keeps_history(warehouse, linked, tmp_path):
    (prop, unit, tenant, _, lease_id, tenant_id, unit_id, prop_id), other = linked
    day = dt.date(2026, 9, 1)
    rows = [
        ["EV-1", prop, unit, tenant.upper(), None, "Referral", day, "pay or quit", "1,234.50", "X-9"],
        ["EV-2", None, None, None, other[3], "notice served", "2026-09-02", None, None, None],
        ["EV-1", None, None, None, None, "Hearing Scheduled", dt.date(2026, 10, 1), None, None, None],
        ["EV-1", None, None, None, None, "filed", dt.date(2026, 10, 2), None, None, None],
        ["EV-3", prop, unit, tenant, None, "referral", "soon", None, None, None],
        ["EV-4", prop, unit, "Nobody Here", None, "referral", day, None, None, None],
        ["EV-2", None, None, None, other[3], "Settled", "2026-09-20", None, None, None],
        ["EV-2", None, None, None, other[3], "judgment", "2026-09-21", None, None, None],
    ]
    path = write_workbook(tmp_path / "cases.xlsx", rows)
    # rows after the first name no tenant: they continue EV-1 and need no links of their own
    summary = _run(warehouse, path)
    meta = summary.materializations["legal_cases"]
    assert (meta["rows_in_workbook"], meta["rows_processed"], meta["rows_with_errors"]) == (8, 4, 4)
    assert all(summary.checks.values()) and summary.warnings == {}

    staged = {
        n: (status, [e["message"] for e in errors], raw)
        for n, status, errors, raw in _all(
            warehouse, "SELECT row_number, status, errors, raw FROM legal_case_import_staging"
        )
    }
    assert [staged[n][0] for n in range(2, 10)] == [
        "processed",
        "processed",
        "processed",
        "error",
        "error",
        "error",
        "processed",
        "error",
    ]
    assert staged[2][2]["Internal Ref"] == "X-9"  # unknown columns kept
    assert staged[5][1] == ["row 5 (EV-1): PHASE filed refused: moving backwards from hearing_scheduled to filed"]
    assert staged[6][1] == ["row 6 (EV-3): Phase Date 'soon' is not a date (YYYY-MM-DD)"]
    assert staged[7][1] == [f"row 7 (EV-4): Tenant_Name 'Nobody Here' is on no lease of unit {unit!r} at {prop!r}"]
    assert staged[9][1] == [
        "row 9 (EV-2): PHASE judgment refused: the case is closed (settled); it cannot move to judgment"
    ]

    cases = {
        r[0]: r[1:]
        for r in _all(
            warehouse,
            "SELECT case_key, current_phase, phase_date, is_closed, lease_id, "
            "tenant_id, unit_id, property_id, notice_type, amount_owed FROM legal_cases",
        )
    }
    assert set(cases) == {"EV-1", "EV-2"}
    assert cases["EV-1"] == (
        "hearing_scheduled",
        dt.date(2026, 10, 1),
        False,
        lease_id,
        tenant_id,
        unit_id,
        prop_id,
        "PAY_OR_QUIT",
        pytest.approx(1234.50),
    )
    assert cases["EV-2"][:4] == ("settled", dt.date(2026, 9, 20), True, other[4])
    history = _all(
        warehouse,
        "SELECT from_phase, to_phase, skipped FROM legal_case_phase_history WHERE case_id = %s ORDER BY id",
        case_id("EV-1"),
    )
    assert history == [
        (None, "referral", False),
        ("referral", "notice_served", True),
        ("notice_served", "filed", True),
        ("filed", "summons_served", True),
        ("summons_served", "hearing_scheduled", False),
    ]

    # the same workbook again changes nothing; a fixed row is picked up on its own
    before = _all(warehouse, "SELECT * FROM legal_case_import_staging ORDER BY id")
    again = _run(warehouse, path).materializations["legal_cases"]
    assert (again["rows_new_or_changed"], again["history_appended"], again["cases_written"]) == (0, 0, 0)
    assert _all(warehouse, "SELECT * FROM legal_case_import_staging ORDER BY id") == before
    rows[4][6] = dt.date(2026, 9, 3)
    fixed = _run(warehouse, write_workbook(path, rows)).materializations["legal_cases"]
    assert (fixed["rows_new_or_changed"], fixed["rows_processed"], fixed["history_appended"]) == (1, 1, 1)
    assert _all(warehouse, "SELECT current_phase FROM legal_cases WHERE case_key = 'EV-3'") == [("referral",)]

    # the history is append-only
    with warehouse.connect() as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE legal_case_phase_history SET to_phase = 'closed'")


def test_cli_imports_a_workbook_and_refuses_other_files(warehouse, linked, tmp_path, dagster_storage):
    prop, unit, tenant = linked[0][:3]
    env = {
        "ALTUS_DATABASE_URL": warehouse.url,
        "ALTUS_SCHEMA": warehouse.schema,
        "ALTUS_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    good = write_workbook(
        tmp_path / "team.xlsx",
        [
            ["EV-9", prop, unit, tenant, None, "filed", "2026-09-01"],
            ["", prop, unit, tenant, None, "filed", "2026-09-01"],
        ],
    )
    done = subprocess.run(
        [ALTUS, "legal", "import", str(good)], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "rows processed 1, rows with errors 1" in done.stdout
    assert "row error: row 3: Case Key is required" in done.stdout
    macro = tmp_path / "team.xlsm"
    macro.write_bytes(good.read_bytes())
    refused = subprocess.run(
        [ALTUS, "legal", "import", str(macro)], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert refused.returncode == 1
    assert "team.xlsm: expected an .xlsx workbook" in refused.stdout + refused.stderr


def test_documents_are_filed_by_case_and_phase_once_per_content(warehouse, linked, tmp_path, monkeypatch):
    monkeypatch.setenv("ALTUS_HOME", str(tmp_path / "home"))
    prop, unit, tenant = linked[0][:3]
    docs = tmp_path / "docs"
    (docs / "notices").mkdir(parents=True)
    (docs / "notices" / "notice.pdf").write_bytes(b"%PDF-1.4 notice")
    (docs / "complaint.pdf").write_bytes(b"%PDF-1.4 complaint")
    header = ["Case Key", "Property", "Unit", "Tenant Name", "Phase", "Phase Date", "Documents"]
    rows = [
        ["EV-7", prop, unit, tenant, "notice_served", "2026-09-01", "notices/notice.pdf"],
        ["EV-7", None, None, None, "filed", "2026-09-10", "complaint.pdf; ../escape.pdf"],
        ["EV-7", None, None, None, "filed", "2026-09-10", "complaint.pdf"],
    ]
    path = write_workbook(docs / "cases.xlsx", rows, header)
    meta = _run(warehouse, path).materializations["legal_cases"]
    assert (meta["documents_filed"], meta["documents_unchanged"], meta["rows_with_errors"]) == (2, 0, 1)
    errors = _all(warehouse, "SELECT errors -> 0 ->> 'message' FROM legal_case_import_staging WHERE status = 'error'")
    assert errors == [("row 3 (EV-7): Documents '../escape.pdf': no such file in the documents folder 'docs'",)]
    filed = dict(_all(warehouse, "SELECT dropbox_path, content_hash FROM legal_case_documents"))
    folder = f"/Legal/{prop}/EV-7"
    # a document from a subfolder is named by its relative path (sub1/same.pdf and sub2/same.pdf differ)
    notice = stored_name("notices/notice.pdf")
    assert set(filed) == {f"{folder}/notice_served/{notice}", f"{folder}/filed/complaint.pdf"}
    assert notice.startswith("notice~") and notice.endswith(".pdf")
    stored = tmp_path / "home" / "legal_documents" / folder.lstrip("/") / "filed" / "complaint.pdf"
    assert stored.read_bytes() == b"%PDF-1.4 complaint"

    # the same document listed again is not sent again; changed content is
    stored.unlink()
    rows.append(["EV-7", None, None, None, "filed", "2026-09-11", "complaint.pdf"])
    meta = _run(warehouse, write_workbook(path, rows, header)).materializations["legal_cases"]
    assert (meta["documents_filed"], meta["documents_unchanged"]) == (0, 1) and not stored.exists()
    (docs / "complaint.pdf").write_bytes(b"%PDF-1.4 complaint, amended")
    rows.append(["EV-7", None, None, None, "filed", "2026-09-12", "complaint.pdf"])
    meta = _run(warehouse, write_workbook(path, rows, header)).materializations["legal_cases"]
    assert (meta["documents_filed"], meta["documents_unchanged"]) == (1, 0)
    assert stored.read_bytes() == b"%PDF-1.4 complaint, amended"


@pytest.fixture
def fake_dropbox(tmp_path):
    from altus_pipeline_tests.support.dropbox_fake import FakeDropbox

    fake = FakeDropbox(access_token="sl.fake-dropbox-token-4d2c", refresh_token="refresh-9f1e", app_key="app-key-77")
    yield fake.start(tmp_path)
    fake.stop()


def test_documents_go_to_dropbox_through_the_sdk_and_the_token_never_shows(
    warehouse, linked, tmp_path, dagster_storage, fake_dropbox
):
    prop, unit, tenant = linked[0][:3]
    (tmp_path / "notice.pdf").write_bytes(b"%PDF-1.4 served notice")
    header = ["Case Key", "Property", "Unit", "Tenant Name", "Phase", "Phase Date", "Documents"]
    path = write_workbook(
        tmp_path / "cases.xlsx", [["EV-8", prop, unit, tenant, "notice served", "2026-09-01", "notice.pdf"]], header
    )
    env = {
        "ALTUS_DATABASE_URL": warehouse.url,
        "ALTUS_SCHEMA": warehouse.schema,
        "ALTUS_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "ALTUS_LEGAL_STORE": "dropbox",
        "ALTUS_DROPBOX_CA_CERTS": str(fake_dropbox.ca_file),
        "DROPBOX_API_HOST": fake_dropbox.host,
        "DROPBOX_API_CONTENT_HOST": fake_dropbox.host,
    }

    def run(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [ALTUS, "legal", "import", str(path)],
            env={**env, **extra},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )

    # a wrong token: the run fails saying why, imports nothing, and shows no token
    refused = run(DROPBOX_ACCESS_TOKEN="sl.wrong-token-0000")
    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert "authentication refused (invalid_access_token); nothing was imported" in output
    assert "sl.wrong-token-0000" not in output
    assert _all(warehouse, "SELECT count(*) FROM legal_cases") == [(0,)]

    # a refresh token and app key: the SDK gets an access token, then uploads
    done = run(DROPBOX_REFRESH_TOKEN="refresh-9f1e", DROPBOX_APP_KEY="app-key-77")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    target = f"/Legal/{prop}/EV-8/notice_served/notice.pdf"
    assert fake_dropbox.files == {target: b"%PDF-1.4 served notice"}
    assert ("POST", "/oauth2/token") in fake_dropbox.requests
    row = _all(warehouse, "SELECT dropbox_path, file_id, rev, size FROM legal_case_documents")
    assert row == [
        (
            target,
            "id:" + hashlib.sha1(target.lower().encode()).hexdigest()[:22],
            hashlib.sha1(target.encode() + b"%PDF-1.4 served notice").hexdigest()[:16],
            22,
        )
    ]
    uploads = sum(1 for r in fake_dropbox.requests if r[1] == "/2/files/upload")

    # the same workbook again sends nothing; no credential is in the output or the warehouse
    again = run(DROPBOX_ACCESS_TOKEN=fake_dropbox.access_token)
    assert again.returncode == 0 and sum(1 for r in fake_dropbox.requests if r[1] == "/2/files/upload") == uploads
    shown = done.stdout + done.stderr + again.stdout + again.stderr
    stored = str(_all(warehouse, "SELECT * FROM legal_case_documents")) + str(
        _all(warehouse, "SELECT * FROM legal_case_import_staging")
    )
    for secret in (fake_dropbox.access_token, "refresh-9f1e"):
        assert secret not in shown and secret not in stored
