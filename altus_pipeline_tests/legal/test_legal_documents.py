"""Legal documents: a stored path belongs to one (case, phase, source file), through the local
store and through the real Dropbox SDK against the local HTTPS fake; Dropbox failures are one line."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import certifi
import dagster as dg
import pytest

from altus_pipeline.assets.legal import failure_reason
from altus_pipeline.definitions import build_definitions
from altus_pipeline.legal.documents import case_folder, stored_name
from altus_pipeline.resources import LegalStoreResource, WarehouseResource
from altus_pipeline.runner import legal_import
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.legal.test_legal import _all, _run, fake_dropbox, linked, write_workbook  # noqa: F401 (fixtures)
from altus_pipeline_tests.raw.test_raw import ALTUS, REPO

HEADER = ["Case Key", "Property", "Unit", "Tenant Name", "Phase", "Phase Date", "Documents"]
FIRST = {
    "notice.pdf": b"%PDF notice served on X/1",
    "sub1/same.pdf": b"%PDF one",
    "sub2/same.pdf": b"%PDF two",
    "a.pdf": b"%PDF a",
    "a\t.pdf": b"%PDF a-tab",
    "Report.pdf": b"%PDF Report",
    "report.pdf": b"%PDF report",
}
SECOND_NOTICE = b"%PDF notice served on X_1"
SNIPPET = """
import json, sys
from pathlib import Path
from altus_pipeline.legal.importer import import_workbook
from altus_pipeline.resources import LegalStoreResource
from altus_pipeline.warehouse.db import Warehouse
with Warehouse(sys.argv[1], sys.argv[2]).connect() as conn:
    result = import_workbook(conn, Path(sys.argv[3]), "test-run", LegalStoreResource().store())
    conn.commit()
print(json.dumps(result.metadata()))
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _collisions(
    warehouse: Warehouse,
    linked_rows: list[tuple],
    docs: Path,
    run_import: Callable[[Path], dict],
    stored: Callable[[], dict[str, bytes]],
) -> None:
    """Cases whose keys sanitise alike, and documents of one row whose names do, each land in a
    path of their own with their own content; a name differing only in case is an error on its row.

    ``run_import(path)`` imports and returns the run's metadata; ``stored()`` is the store's
    content by path, read after each run."""
    prop, unit, tenant = linked_rows[0][:3]
    for name, data in FIRST.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_bytes(data)
    rows = [
        ["X/1", prop, unit, tenant, "notice_served", "2026-09-01", "notice.pdf"],
        ["A..B", prop, unit, tenant, "notice_served", "2026-09-01", "notice.pdf"],
        ["C\tD", prop, unit, tenant, "notice_served", "2026-09-01", "notice.pdf"],
        ["EV-5", prop, unit, tenant, "filed", "2026-09-01", "sub1/same.pdf; sub2/same.pdf; a.pdf; a\t.pdf"],
    ]
    meta = run_import(write_workbook(docs / "cases.xlsx", rows, HEADER))
    assert (meta["documents_filed"], meta["documents_unchanged"], meta["rows_with_errors"]) == (7, 0, 0)

    # the notice of X_1 (and of A_B, CD) has the same file name, other content, and a key that sanitises alike
    (docs / "notice.pdf").write_bytes(SECOND_NOTICE)
    rows += [
        ["X_1", prop, unit, tenant, "notice_served", "2026-09-02", "notice.pdf"],
        ["A_B", prop, unit, tenant, "notice_served", "2026-09-02", "notice.pdf"],
        ["CD", prop, unit, tenant, "notice_served", "2026-09-02", "notice.pdf"],
        ["EV-6", prop, unit, tenant, "filed", "2026-09-02", "Report.pdf; report.pdf"],
    ]
    meta = run_import(write_workbook(docs / "cases.xlsx", rows, HEADER))
    documents = {
        (key, source): (path, digest)
        for key, source, path, digest in _all(
            warehouse,
            "SELECT c.case_key, d.source_path, d.dropbox_path, d.content_hash FROM legal_case_documents d "
            "JOIN legal_cases c ON c.id = d.case_id",
        )
    }
    first, second = _sha(FIRST["notice.pdf"]), _sha(SECOND_NOTICE)
    expected = {
        ("X/1", "notice.pdf"): first,
        ("A..B", "notice.pdf"): first,
        ("C\tD", "notice.pdf"): first,
        ("X_1", "notice.pdf"): second,
        ("A_B", "notice.pdf"): second,
        ("CD", "notice.pdf"): second,
        **{("EV-5", name): _sha(FIRST[name]) for name in ("sub1/same.pdf", "sub2/same.pdf", "a.pdf", "a\t.pdf")},
        ("EV-6", "Report.pdf"): _sha(FIRST["Report.pdf"]),
    }
    assert {k: digest for k, (_, digest) in documents.items()} == {k: v for k, v in expected.items() if k[0] != "EV-6"}
    paths = {path for path, _ in documents.values()}
    assert len(paths) == len(documents)
    assert documents[("X_1", "notice.pdf")][0] == f"/Legal/{prop}/X_1/notice_served/notice.pdf"
    assert documents[("X/1", "notice.pdf")][0] == f"/Legal/{prop}/{case_folder('X/1')}/notice_served/notice.pdf"
    assert documents[("EV-5", "a.pdf")][0] == f"/Legal/{prop}/EV-5/filed/a.pdf"
    assert documents[("EV-5", "a\t.pdf")][0] == f"/Legal/{prop}/EV-5/filed/{stored_name('a' + chr(9) + '.pdf')}"
    # what the store holds at each recorded path is the content recorded there: nothing was filed over
    content = stored()
    assert {path: _sha(content[path]) for path in paths} == {path: digest for path, digest in documents.values()}
    assert (meta["documents_filed"], meta["documents_unchanged"], meta["rows_with_errors"]) == (3, 0, 1)
    errors = _all(warehouse, "SELECT errors -> 0 ->> 'message' FROM legal_case_import_staging WHERE status = 'error'")
    assert errors == [
        (
            f"row 9 (EV-6): Documents 'report.pdf' would be filed at '/Legal/{prop}/EV-6/filed/report.pdf', "
            "which holds 'Report.pdf'; rename one of them",
        )
    ]
    assert _all(warehouse, "SELECT count(*) FROM legal_cases WHERE case_key = 'EV-6'") == [(0,)]

    # the same workbook again sends nothing and moves nothing
    meta = run_import(write_workbook(docs / "cases.xlsx", rows, HEADER))
    assert (meta["documents_filed"], meta["rows_new_or_changed"]) == (0, 0)
    assert {
        (k, s): (p, d)
        for k, s, p, d in _all(
            warehouse,
            "SELECT c.case_key, d.source_path, d.dropbox_path, d.content_hash FROM legal_case_documents d "
            "JOIN legal_cases c ON c.id = d.case_id",
        )
    } == documents


def test_colliding_names_never_share_a_path_in_the_local_store(warehouse, linked, tmp_path, monkeypatch):
    monkeypatch.setenv("ALTUS_HOME", str(tmp_path / "home"))
    base = tmp_path / "home" / "legal_documents"
    docs = tmp_path / "docs"
    docs.mkdir()

    def stored() -> dict[str, bytes]:
        return {"/" + p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}

    _collisions(warehouse, linked, docs, lambda path: _run(warehouse, path).materializations["legal_cases"], stored)


def test_a_path_filed_for_another_case_is_an_error_on_the_row_not_an_overwrite(
    warehouse, linked, tmp_path, monkeypatch
):
    """A path held from before (say filed under the old naming, where X/1 and X_1 shared a folder)
    keeps its case: the row that would take it is refused, and the stored file is untouched."""
    monkeypatch.setenv("ALTUS_HOME", str(tmp_path / "home"))
    prop, unit, tenant = linked[0][:3]
    (tmp_path / "notice.pdf").write_bytes(SECOND_NOTICE)
    header_only = [["X/1", prop, unit, tenant, "notice_served", "2026-09-01", None]]
    _run(warehouse, write_workbook(tmp_path / "cases.xlsx", header_only, HEADER))
    taken = f"/Legal/{prop}/X_1/notice_served/notice.pdf"
    with warehouse.connect() as conn:
        conn.execute(
            "INSERT INTO legal_case_documents (case_id, phase, local_name, source_path, dropbox_path, "
            "file_id, rev, content_hash, size) SELECT id, 'notice_served', 'notice.pdf', 'notice.pdf', %s, 'local:x', "
            "'1', %s, 1 FROM legal_cases WHERE case_key = 'X/1'",
            (taken, _sha(b"theirs")),
        )
        conn.commit()
    rows = header_only + [["X_1", prop, unit, tenant, "notice_served", "2026-09-02", "notice.pdf"]]
    meta = _run(warehouse, write_workbook(tmp_path / "cases.xlsx", rows, HEADER)).materializations["legal_cases"]
    assert (meta["documents_filed"], meta["rows_with_errors"]) == (0, 1)
    errors = _all(warehouse, "SELECT errors -> 0 ->> 'message' FROM legal_case_import_staging WHERE status = 'error'")
    assert errors == [
        (
            f"row 3 (X_1): Documents 'notice.pdf' would be filed at {taken!r}, which holds 'notice.pdf' of case 'X/1'; "
            "rename one of them",
        )
    ]
    assert _all(
        warehouse,
        "SELECT c.case_key, d.content_hash FROM legal_case_documents d JOIN legal_cases c ON c.id = d.case_id",
    ) == [("X/1", _sha(b"theirs"))]
    assert not (tmp_path / "home" / "legal_documents" / taken.lstrip("/")).exists()


def _dropbox_env(warehouse: Warehouse, fake, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ALTUS_DATABASE_URL": warehouse.url,
        "ALTUS_SCHEMA": warehouse.schema,
        "ALTUS_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "ALTUS_LEGAL_STORE": "dropbox",
        "DROPBOX_ACCESS_TOKEN": fake.access_token,
        "ALTUS_DROPBOX_CA_CERTS": str(fake.ca_file),
        "DROPBOX_API_HOST": fake.host,
        "DROPBOX_API_CONTENT_HOST": fake.host,
        **extra,
    }


def _import_in_subprocess(warehouse: Warehouse, path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The importer in a process of its own: the SDK reads DROPBOX_API_HOST when imported."""
    return subprocess.run(
        [sys.executable, "-c", SNIPPET, warehouse.url, warehouse.schema, str(path)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_colliding_names_never_share_a_path_in_dropbox(warehouse, linked, tmp_path, fake_dropbox):
    docs = tmp_path / "docs"
    docs.mkdir()
    env = _dropbox_env(warehouse, fake_dropbox, tmp_path)

    def run_import(path: Path) -> dict:
        done = _import_in_subprocess(warehouse, path, env)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    _collisions(warehouse, linked, docs, run_import, lambda: dict(fake_dropbox.files))


def test_dropbox_ca_certs_win_over_requests_ca_bundle(warehouse, linked, tmp_path, fake_dropbox):
    prop, unit, tenant = linked[0][:3]
    (tmp_path / "notice.pdf").write_bytes(b"%PDF notice")
    path = write_workbook(
        tmp_path / "cases.xlsx", [["EV-1", prop, unit, tenant, "filed", "2026-09-01", "notice.pdf"]], HEADER
    )
    env = _dropbox_env(warehouse, fake_dropbox, tmp_path, REQUESTS_CA_BUNDLE=certifi.where())
    done = _import_in_subprocess(warehouse, path, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["documents_filed"] == 1
    assert fake_dropbox.files == {f"/Legal/{prop}/EV-1/filed/notice.pdf": b"%PDF notice"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_or_untrusted_dropbox_is_one_line(warehouse, linked, tmp_path, dagster_storage, fake_dropbox):
    prop, unit, tenant = linked[0][:3]
    (tmp_path / "notice.pdf").write_bytes(b"%PDF notice")
    path = write_workbook(
        tmp_path / "cases.xlsx", [["EV-1", prop, unit, tenant, "filed", "2026-09-01", "notice.pdf"]], HEADER
    )
    target = f"/Legal/{prop}/EV-1/filed/notice.pdf"

    def import_failing(**extra: str) -> str:
        env = _dropbox_env(warehouse, fake_dropbox, tmp_path, **extra)
        env = {k: v for k, v in env.items() if v}
        done = subprocess.run(
            [ALTUS, "legal", "import", str(path)], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
        )
        output = done.stdout + done.stderr
        assert done.returncode == 1 and len(output.strip().splitlines()) == 1, output[-3000:]
        assert fake_dropbox.access_token not in output and "Traceback" not in output
        return output.strip()

    port = _closed_port()
    down = import_failing(DROPBOX_API_HOST=f"127.0.0.1:{port}", DROPBOX_API_CONTENT_HOST=f"127.0.0.1:{port}")
    assert down.startswith(
        f"Error: Dropbox {target}: cannot reach 127.0.0.1:{port} (connection refused); check the "
        "network, the proxy (HTTPS_PROXY) or DROPBOX_API_HOST, and run the import again; "
        "nothing was imported (run "
    ), down
    untrusted = import_failing(ALTUS_DROPBOX_CA_CERTS="")
    assert untrusted.startswith(
        f"Error: Dropbox {target}: TLS to {fake_dropbox.host} failed (certificate verify "
        "failed: unable to get local issuer certificate); if a proxy or firewall inspects TLS, "
        "set ALTUS_DROPBOX_CA_CERTS to its CA certificate (PEM)"
    ), untrusted
    assert fake_dropbox.files == {} and _all(warehouse, "SELECT count(*) FROM legal_cases") == [(0,)]


@pytest.fixture
def dropbox_here(fake_dropbox, monkeypatch):
    """The SDK in this process talking to the fake: the host constants it reads from
    DROPBOX_API_HOST when first imported, set as that would; the credentials in the environment."""
    from dropbox import dropbox_client

    monkeypatch.setattr(dropbox_client, "API_HOST", fake_dropbox.host)
    monkeypatch.setattr(dropbox_client, "API_CONTENT_HOST", fake_dropbox.host)
    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", fake_dropbox.access_token)
    monkeypatch.setenv("ALTUS_DROPBOX_CA_CERTS", str(fake_dropbox.ca_file))
    return fake_dropbox


def _import_run(warehouse: Warehouse, path: Path, store: LegalStoreResource | None = None) -> tuple[dict | None, str]:
    """One legal import run with the store resource ``store`` (default: from the environment);
    the run's metadata, or None and why it failed."""
    defs = build_definitions(
        WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema), legal_store=store
    )
    instance = dg.DagsterInstance.ephemeral()
    summary = legal_import(defs, instance, str(path), raise_on_error=False, quiet=True)
    if summary.success:
        return summary.materializations["legal_cases"], ""
    return None, failure_reason(instance, summary.run_id)


def _legal_counts(warehouse: Warehouse) -> tuple:
    return _all(
        warehouse,
        "SELECT (SELECT count(*) FROM legal_cases), "
        "(SELECT count(*) FROM legal_case_phase_history), (SELECT count(*) FROM legal_case_documents), "
        "(SELECT count(*) FROM legal_case_import_staging)",
    )[0]


def test_a_refused_dropbox_upload_fails_the_import_which_a_plain_rerun_completes(
    warehouse, linked, tmp_path, monkeypatch, dropbox_here
):
    """Dropbox refusing the second document (a full account) fails the run with Dropbox's reason
    and what to do, and nothing of the import is committed; once space is freed, the same run succeeds."""
    monkeypatch.setenv("ALTUS_LEGAL_STORE", "dropbox")
    (prop, unit, tenant), other = linked[0][:3], linked[1][:3]
    (tmp_path / "notice.pdf").write_bytes(b"%PDF notice")
    (tmp_path / "complaint.pdf").write_bytes(b"%PDF complaint")
    path = write_workbook(
        tmp_path / "cases.xlsx",
        [
            ["EV-1", prop, unit, tenant, "notice_served", "2026-09-01", "notice.pdf"],
            ["EV-2", other[0], other[1], other[2], "filed", "2026-09-02", "complaint.pdf"],
        ],
        HEADER,
    )
    refused = f"/Legal/{other[0]}/EV-2/filed/complaint.pdf"
    dropbox_here.refuse[refused.lower()] = (
        409,
        {
            "error_summary": "path/insufficient_space/..",
            "error": {".tag": "path", "reason": {".tag": "insufficient_space"}, "upload_session_id": "s-1"},
        },
    )

    meta, reason = _import_run(warehouse, path)
    assert meta is None and reason == (
        f"Dropbox {refused}: upload refused (path/insufficient_space); the Dropbox "
        "account is full; free space or add storage, then run the import again; "
        "nothing was imported"
    )
    assert _legal_counts(warehouse) == (0, 0, 0, 0)

    del dropbox_here.refuse[refused.lower()]
    meta, reason = _import_run(warehouse, path)
    assert meta is not None and meta["documents_filed"] == 2, reason
    assert _legal_counts(warehouse) == (2, 2, 2, 2)
    assert dropbox_here.files == {
        f"/Legal/{prop}/EV-1/notice_served/notice.pdf": b"%PDF notice",
        refused: b"%PDF complaint",
    }


def test_large_documents_go_up_in_an_upload_session_of_bounded_chunks(
    warehouse, linked, tmp_path, monkeypatch, dropbox_here
):
    """The store resource names Dropbox itself (ALTUS_LEGAL_STORE unset); a server error fails the
    run at once, naming the status; past the session threshold a file goes up in start/append/finish
    chunks no larger than the chunk size, and Dropbox holds exactly its bytes."""
    from altus_pipeline.legal import documents

    monkeypatch.delenv("ALTUS_LEGAL_STORE", raising=False)
    monkeypatch.setattr(documents, "UPLOAD_SESSION_THRESHOLD", 1 << 20)
    monkeypatch.setattr(documents, "UPLOAD_CHUNK_BYTES", 1 << 20)
    prop, unit, tenant = linked[0][:3]
    big = bytes(range(256)) * (3 * 4096 + 100)  # 3.1 MB, not a whole number of chunks
    (tmp_path / "evidence.bin").write_bytes(big)
    (tmp_path / "notice.pdf").write_bytes(b"%PDF notice")
    path = write_workbook(
        tmp_path / "cases.xlsx",
        [["EV-1", prop, unit, tenant, "filed", "2026-09-01", "notice.pdf; evidence.bin"]],
        HEADER,
    )
    store = LegalStoreResource(kind="dropbox", max_retries_on_error=0)
    target = f"/Legal/{prop}/EV-1/filed/evidence.bin"

    dropbox_here.refuse[target.lower()] = (503, {"error_summary": "service unavailable"})
    meta, reason = _import_run(warehouse, path, store)
    assert meta is None and reason == (
        f"Dropbox {target}: HTTP 503 (Dropbox had an error or is busy); run the "
        "import again later; nothing was imported"
    )
    assert _legal_counts(warehouse) == (0, 0, 0, 0)

    del dropbox_here.refuse[target.lower()]
    dropbox_here.body_sizes.clear()
    meta, reason = _import_run(warehouse, path, store)
    assert meta is not None and meta["documents_filed"] == 2, reason
    assert dropbox_here.files[target] == big
    session = [(route.rsplit("/", 1)[-1], size) for route, size in dropbox_here.body_sizes if "upload_session" in route]
    assert [route for route, _ in session] == ["start", "append_v2", "append_v2", "finish"]
    assert all(size <= 1 << 20 for _, size in session) and sum(size for _, size in session) == len(big)
    assert ("/2/files/upload", len(b"%PDF notice")) in dropbox_here.body_sizes  # a small file in one call
    assert _all(warehouse, "SELECT size, content_hash FROM legal_case_documents WHERE dropbox_path = %s", target) == [
        (len(big), _sha(big))
    ]


def test_the_store_is_a_resource_and_a_too_large_document_is_an_error_on_its_row(
    warehouse, linked, tmp_path, monkeypatch
):
    """A resource naming a folder files there whatever ALTUS_LEGAL_STORE says; a document past the
    size bound is an error on its row while the others load; a folder that cannot be written fails
    the run and imports nothing."""
    from altus_pipeline.legal import documents

    monkeypatch.setenv("ALTUS_LEGAL_STORE", "dropbox")  # no credentials: used, it would fail the run
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 1000)
    prop, unit, tenant = linked[0][:3]
    (tmp_path / "notice.pdf").write_bytes(b"%PDF notice")
    (tmp_path / "scan.pdf").write_bytes(b"x" * 1001)
    path = write_workbook(
        tmp_path / "cases.xlsx",
        [
            ["EV-1", prop, unit, tenant, "notice_served", "2026-09-01", "notice.pdf"],
            ["EV-2", prop, unit, tenant, "filed", "2026-09-01", "scan.pdf"],
        ],
        HEADER,
    )

    (tmp_path / "not-a-folder").write_text("a file where the store's folder should be")
    meta, reason = _import_run(warehouse, path, LegalStoreResource(kind="local", folder=str(tmp_path / "not-a-folder")))
    assert meta is None and _legal_counts(warehouse) == (0, 0, 0, 0)
    assert reason == (
        f"local store /Legal/{prop}/EV-1/notice_served/notice.pdf: cannot write under "
        f"{tmp_path / 'not-a-folder'} (Not a directory); fix the folder, then run the import again; "
        "nothing was imported"
    )

    meta, reason = _import_run(warehouse, path, LegalStoreResource(kind="local", folder=str(tmp_path / "store")))
    assert meta is not None, reason
    assert (meta["documents_filed"], meta["rows_processed"], meta["rows_with_errors"]) == (1, 1, 1)
    stored = tmp_path / "store" / "Legal" / prop / "EV-1" / "notice_served" / "notice.pdf"
    assert stored.read_bytes() == b"%PDF notice"
    errors = _all(warehouse, "SELECT errors -> 0 ->> 'message' FROM legal_case_import_staging WHERE status = 'error'")
    assert errors == [
        (
            "row 3 (EV-2): Documents 'scan.pdf': 1,001 bytes is over the 1,000-byte limit for a document; "
            "split or compress it",
        )
    ]


def test_the_store_resource_names_the_variables_that_feed_it_never_their_values(monkeypatch):
    """The config the UI shows holds the variables' names; the store reads the variables they name."""
    from altus_pipeline.legal.documents import DocumentStoreError, DropboxStore

    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", "sl.secret-value-1234")
    monkeypatch.delenv("DROPBOX_REFRESH_TOKEN", raising=False)
    monkeypatch.delenv("ALTUS_DROPBOX_CA_CERTS", raising=False)
    shown = json.dumps(LegalStoreResource().get_resource_definition().config_schema.as_field().default_value)
    assert "DROPBOX_ACCESS_TOKEN" in shown and "sl.secret-value-1234" not in shown
    named = LegalStoreResource(kind="dropbox", access_token_env="ALTUS_TEST_DROPBOX_TOKEN")
    with pytest.raises(
        DocumentStoreError,
        match=r"^Dropbox store: set ALTUS_TEST_DROPBOX_TOKEN, or "
        r"DROPBOX_REFRESH_TOKEN and DROPBOX_APP_KEY$",
    ):
        named.store()
    monkeypatch.setenv("ALTUS_TEST_DROPBOX_TOKEN", "sl.another-token")
    assert isinstance(named.store(), DropboxStore)
