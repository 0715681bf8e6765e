"""Import a legal workbook: rows → ``legal_case_import_staging`` → ``legal_cases`` + history.

1. Every row of both sheets is staged (COPY, then one upsert keyed by the workbook's resolved
   path, sheet and row number: two workbooks of the same name in different folders never
   share rows): a row whose cells are unchanged keeps its status.
2. Pending rows, and rows in error (their cause may be gone: the tenant synced since, the
   document put in its folder, the case imported), are validated field by field and linked
   to DoorLoop data (ids when given, else property → unit → tenant names, exact and
   case-insensitive), from lookups read in a few queries, never one per row. A row in error
   that now passes takes effect like a new one; processed rows are never read again, and a
   row's status and reasons are written only when they change, so re-importing a settled
   workbook writes nothing.
3. In sheet order, each valid row moves its case (``phases.move``); a refused move is an
   error on that row and the case keeps its phase.
4. Cases are upserted, history appended and staging statuses written, each in one
   statement. A bad row never stops the others: it stays in staging with its reasons.
5. The documents a valid row lists (``;``-separated, relative to the documents folder)
   are filed in the store under the case's property, key and phase; one already filed
   with the same content hash is not sent again. A listed file that is missing is an
   error on its row, and so is one whose stored path another document holds (the paths
   are unique by construction, ``documents.store_path``; this guards names differing
   only in case, which Dropbox treats as one file, and paths filed before): a document is
   never filed over another, and its row never moves to another case.
6. Then the Bills rows (``legal.bills``): invoices upserted, paid amounts allocated.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from altus_pipeline.legal.bills import BillRow, import_bills, invoice_of, parse_bill
from altus_pipeline.legal.cells import RowErrors, parse_date, parse_money
from altus_pipeline.legal.documents import (
    CASE_FOLDER_PART,
    DocumentStore,
    case_folder,
    sha256_of,
    size_refusal,
    store_path,
)
from altus_pipeline.legal.phases import CLOSED, PAUSE, PhaseError, Step, move, parse_phase
from altus_pipeline.legal.workbook import BILLS_SHEET, CASES_SHEET, SheetRow, read_workbook
from altus_pipeline.normalized.spec import NAMESPACE
from altus_pipeline.warehouse.locks import take_turn

NOTICE_TYPES = ("PAY_OR_QUIT", "CURE_OR_QUIT", "UNCONDITIONAL_QUIT", "NOTICE_TO_VACATE")
DATE_FIELDS = ("notice_served", "filing_date", "hearing_date", "judgment_date", "writ_issued", "possession_date")
TEXT_FIELDS = ("docket_number", "court", "county", "attorney", "notes")
MONEY_FIELDS = ("amount_owed", "judgment_amount")
CASE_COLUMNS = (
    "docket_number",
    "tenant_id",
    "tenant_doorloop_id",
    "lease_id",
    "lease_doorloop_id",
    "unit_id",
    "property_id",
    "current_phase",
    "phase_date",
    "paused_from_phase",
    "is_closed",
    "notice_type",
    *DATE_FIELDS,
    "court",
    "county",
    *MONEY_FIELDS,
    "attorney",
    "notes",
    "source_row_id",
)
_HEX_ID = re.compile(r"^[0-9a-f]{24}$")


def case_id(case_key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"legal_cases:{case_key}")


@dataclass
class Parsed:
    """A staged row read into typed fields (``values``) and its links' inputs."""

    staging_id: int
    row: SheetRow
    case_key: str | None
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)


def parse_row(staging_id: int, row: SheetRow) -> Parsed:
    header, key = row.field("case_key")
    case_key = str(key).strip() if key is not None else None
    parsed = Parsed(staging_id, row, case_key)
    errors = RowErrors(row, case_key)
    if not case_key:
        errors.add(header, "is required (the case's stable id, e.g. EV-2025-014)")
    header, phase_text = row.field("phase")
    phase = parse_phase(phase_text)
    if phase is None:
        errors.add(header, f"{phase_text!r} is not a phase" if phase_text is not None else "is required")
    parsed.values["phase"] = phase
    header, phase_date = row.field("phase_date")
    parsed.values["phase_date"] = parse_date(phase_date)
    if parsed.values["phase_date"] is None:
        errors.add(header, f"{phase_date!r} is not a date (YYYY-MM-DD)" if phase_date is not None else "is required")
    for name in DATE_FIELDS:
        header, value = row.field(name)
        parsed.values[name] = parse_date(value) if value is not None else None
        if value is not None and parsed.values[name] is None:
            errors.add(header, f"{value!r} is not a date (YYYY-MM-DD)")
    for name in MONEY_FIELDS:
        header, value = row.field(name)
        parsed.values[name] = parse_money(value) if value is not None else None
        if value is not None and parsed.values[name] is None:
            errors.add(header, f"{value!r} is not an amount")
        elif parsed.values[name] is not None and parsed.values[name] < 0:
            errors.add(header, f"{value!r} is negative (an amount owed or awarded is zero or more)")
            parsed.values[name] = None
    header, notice = row.field("notice_type")
    notice_type = re.sub(r"[\s\-]+", "_", str(notice).strip().upper()) if notice is not None else None
    if notice_type is not None and notice_type not in NOTICE_TYPES:
        errors.add(header, f"{notice!r} is not one of {', '.join(NOTICE_TYPES)}")
    parsed.values["notice_type"] = notice_type
    for name in TEXT_FIELDS:
        value = row.field(name)[1]
        parsed.values[name] = None if value is None else str(value)
    for name in ("tenant_doorloop_id", "lease_doorloop_id"):
        header, value = row.field(name)
        text = str(value).strip().lower() if value is not None else None
        if text is not None and not _HEX_ID.match(text):
            errors.add(header, f"{value!r} is not a DoorLoop id (24 hex characters)")
        parsed.values[name] = text
    for name in ("property", "unit", "tenant_name"):
        value = row.field(name)[1]
        parsed.values[name] = str(value).strip() if value is not None else None
    documents = row.field("documents")[1]
    parsed.values["documents"] = [d.strip() for d in str(documents).split(";") if d.strip()] if documents else []
    parsed.errors = errors.items
    return parsed


def check_documents(parsed: Parsed, folder: Path) -> list[tuple[str, Path]]:
    """The row's listed documents as (path relative to ``folder``, file inside it); a missing
    or too large one is an error on the row."""
    errors, found = RowErrors(parsed.row, parsed.case_key), []
    header = parsed.row.field("documents")[0]
    base = folder.resolve()
    for name in parsed.values["documents"]:
        path = (base / name).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            errors.add(header, f"{name!r}: no such file in the documents folder {folder.name!r}", heals=True)
            continue
        refusal = size_refusal(path.stat().st_size)
        if refusal:
            errors.add(header, f"{name!r}: {refusal}")
            continue
        document = (path.relative_to(base).as_posix(), path)
        if document not in found:  # listed twice in one row: filed once
            found.append(document)
    parsed.errors += errors.items
    return found


@dataclass(frozen=True)
class Filed:
    """A stored path and who holds it: (case key, phase, source file), and its content hash."""

    path: str
    owner: tuple[str, str, str]
    digest: str


@dataclass(frozen=True)
class Filing:
    """A listed document of a valid row: where it is filed, and whether its content must be sent."""

    parsed: Parsed
    local: Path
    source: str
    filed: Filed
    send: bool


class DocumentPaths:
    """Who holds each stored path, case-insensitively (Dropbox treats ``A.pdf`` and ``a.pdf`` as
    one file): the documents already filed in any folder a pending case's documents could go to,
    read once per import, then each row's documents as it is accepted."""

    def __init__(self, conn: psycopg.Connection, case_keys: set[str]) -> None:
        rows = conn.execute(
            "SELECT d.dropbox_path, c.case_key, d.phase, d.source_path, d.content_hash FROM legal_case_documents d "
            "JOIN legal_cases c ON c.id = d.case_id WHERE lower(split_part(d.dropbox_path, '/', %s)) = ANY(%s)",
            (CASE_FOLDER_PART, sorted({case_folder(k).lower() for k in case_keys})),
        ).fetchall()
        self.held = {
            path.lower(): Filed(path, (key, phase, source), digest) for path, key, phase, source, digest in rows
        }

    def plan(self, parsed: Parsed, documents: list[tuple[str, Path]], property_name: str | None) -> list[Filing]:
        """Where each document of the row goes; one whose path another document holds is an error on the row."""
        errors, planned, filings = RowErrors(parsed.row, parsed.case_key), {}, []
        phase, header = parsed.values["phase"], parsed.row.field("documents")[0]
        for source, local in documents:
            path, owner = store_path(property_name, parsed.case_key, phase, source), (parsed.case_key, phase, source)
            holder = planned.get(path.lower()) or self.held.get(path.lower())
            if holder is not None and holder.owner != owner:
                who = "" if holder.owner[0] == parsed.case_key else f" of case {holder.owner[0]!r}"
                errors.add(
                    header,
                    f"{source!r} would be filed at {path!r}, which holds {holder.owner[2]!r}{who}; rename one of them",
                )
                continue
            filed = Filed(holder.path if holder else path, owner, sha256_of(local))
            planned[path.lower()] = filed
            filings.append(Filing(parsed, local, source, filed, send=holder is None or holder.digest != filed.digest))
        parsed.errors += errors.items
        return filings

    def claim(self, filings: list[Filing]) -> None:
        """Record an accepted row's documents as holding their paths."""
        self.held.update((f.filed.path.lower(), f.filed) for f in filings)


class Links:
    """DoorLoop data the workbook can name, read once per import from the normalized tables."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.tenants = dict(
            conn.execute("SELECT doorloop_id, id FROM normalized_tenants WHERE gone_at IS NULL").fetchall()
        )
        self.leases = {
            d: (i, p)
            for d, i, p in conn.execute(
                "SELECT doorloop_id, id, property_id FROM normalized_leases WHERE gone_at IS NULL"
            ).fetchall()
        }
        # every (tenant, lease, unit) a lease tenant row links, latest lease first, indexed by what a row can name
        tenancies = conn.execute(
            "SELECT t.doorloop_id, t.id, lower(coalesce(t.full_name, t.name)), l.doorloop_id, l.id, u.id, "
            "lower(u.name), p.id, lower(p.name) FROM normalized_lease_tenants lt "
            "JOIN normalized_tenants t ON t.id = lt.tenant_id JOIN normalized_leases l ON l.id = lt.lease_id "
            "JOIN normalized_lease_units lu ON lu.lease_id = l.id JOIN normalized_units u ON u.id = lu.unit_id "
            "JOIN normalized_properties p ON p.id = u.property_id WHERE lt.gone_at IS NULL AND t.gone_at IS NULL "
            "AND l.gone_at IS NULL AND u.gone_at IS NULL AND p.gone_at IS NULL ORDER BY l.start DESC, l.doorloop_id"
        ).fetchall()
        self.by_tenant: dict[str, list[tuple]] = {}
        self.by_lease: dict[str, list[tuple]] = {}
        self.by_unit_tenant: dict[tuple, list[tuple]] = {}
        for r in tenancies:
            self.by_tenant.setdefault(r[0], []).append(r)
            self.by_lease.setdefault(r[3], []).append(r)
            self.by_unit_tenant.setdefault((r[7], r[6], r[2]), []).append(r)
        self.properties: dict[str, set] = {}
        self.property_names: dict[Any, str] = {}
        for pid, name in conn.execute("SELECT id, name FROM normalized_properties WHERE gone_at IS NULL").fetchall():
            self.properties.setdefault((name or "").lower(), set()).add(pid)
            self.property_names[pid] = name

    def resolve(self, parsed: Parsed) -> dict[str, Any]:
        """The case's links, or the reason they cannot be made (``errors`` gains it)."""
        v, errors = parsed.values, RowErrors(parsed.row, parsed.case_key)
        tenant_id, lease_id = v["tenant_doorloop_id"], v["lease_doorloop_id"]
        links: dict[str, Any] = {}
        if tenant_id and tenant_id not in self.tenants:
            errors.add(
                parsed.row.field("tenant_doorloop_id")[0], f"{tenant_id}: no such tenant in the warehouse", heals=True
            )
        if lease_id and lease_id not in self.leases:
            errors.add(
                parsed.row.field("lease_doorloop_id")[0], f"{lease_id}: no such lease in the warehouse", heals=True
            )
        if errors.items:
            parsed.errors += errors.items
            return links
        if tenant_id or lease_id:
            rows = [
                r
                for r in (self.by_lease.get(lease_id, []) if lease_id else self.by_tenant.get(tenant_id, []))
                if not tenant_id or r[0] == tenant_id
            ]
        elif v["property"] and v["unit"] and v["tenant_name"]:
            homes = self.properties.get(v["property"].lower(), set())
            if len(homes) != 1:
                found = "no property" if not homes else f"{len(homes)} properties"
                errors.add(
                    parsed.row.field("property")[0],
                    f"{v['property']!r} matches {found}; give the Tenant or Lease DoorLoop ID",
                    heals=True,
                )
                parsed.errors += errors.items
                return links
            rows = self.by_unit_tenant.get((next(iter(homes)), v["unit"].lower(), v["tenant_name"].lower()), [])
            if not rows:
                errors.add(
                    parsed.row.field("tenant_name")[0],
                    f"{v['tenant_name']!r} is on no lease of unit {v['unit']!r} at {v['property']!r}",
                    heals=True,
                )
        else:
            errors.add("Tenant DoorLoop ID", "or Lease DoorLoop ID, or Property, Unit and Tenant Name, are required")
        if errors.items:
            parsed.errors += errors.items
            return links
        if not rows:  # ids given that no lease tenant row joins: link what the ids name
            lease = self.leases.get(lease_id) if lease_id else None
            return {
                "tenant_id": self.tenants.get(tenant_id),
                "tenant_doorloop_id": tenant_id,
                "lease_id": lease[0] if lease else None,
                "lease_doorloop_id": lease_id,
                "unit_id": None,
                "property_id": lease[1] if lease else None,
            }
        first = rows[0]
        units = {r[5] for r in rows if r[4] == first[4]}
        return {
            "tenant_id": first[1],
            "tenant_doorloop_id": first[0],
            "lease_id": first[4],
            "lease_doorloop_id": first[3],
            "unit_id": units.pop() if len(units) == 1 else None,
            "property_id": first[7],
        }


@dataclass
class ImportResult:
    """What one import did; rows count both sheets, ``processed``/``errors`` the rows validated this time."""

    rows: int = 0
    bill_rows: int = 0
    staged: int = 0  # new or changed rows
    processed: int = 0
    errors: int = 0
    healed: int = 0  # rows in error before that passed this time
    cases_written: int = 0
    history_appended: int = 0
    documents_filed: int = 0
    documents_unchanged: int = 0
    bills_written: int = 0
    allocations_appended: int = 0
    messages: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "rows_in_workbook": self.rows,
            "rows_new_or_changed": self.staged,
            "rows_processed": self.processed,
            "rows_with_errors": self.errors,
            "rows_healed": self.healed,
            "cases_written": self.cases_written,
            "history_appended": self.history_appended,
            "documents_filed": self.documents_filed,
            "documents_unchanged": self.documents_unchanged,
            "bill_rows_in_workbook": self.bill_rows,
            "bills_written": self.bills_written,
            "allocations_appended": self.allocations_appended,
        }


@dataclass
class CaseState:
    current_phase: str | None = None
    paused_from_phase: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    changed: bool = False


def import_workbook(
    conn: psycopg.Connection, path: Path, run_id: str, store: DocumentStore, documents_dir: Path | None = None
) -> ImportResult:
    """Import ``path`` in the caller's transaction (the caller commits); documents listed
    in it are read from ``documents_dir`` (default: the workbook's folder) into ``store``."""
    result, workbook = ImportResult(), str(path.resolve())
    take_turn(conn, "legal_import")
    _stage(conn, path, workbook, run_id, result)
    retried = conn.execute(
        "SELECT id, sheet, row_number, raw, status FROM legal_case_import_staging WHERE workbook_path = %s "
        "AND status IN ('pending', 'error') ORDER BY row_number",
        (workbook,),
    ).fetchall()
    pending = [parse_row(i, SheetRow(n, raw)) for i, sheet, n, raw, _ in retried if sheet == CASES_SHEET]
    bills = [parse_bill(i, SheetRow(n, raw, BILLS_SHEET)) for i, sheet, n, raw, _ in retried if sheet == BILLS_SHEET]
    if pending:
        _import_cases(conn, pending, store, documents_dir or path.parent, result)
    if bills:
        case_ids = dict(
            conn.execute(
                "SELECT case_key, id FROM legal_cases WHERE case_key = ANY(%s)",
                (sorted({b.case_key for b in bills if b.case_key}),),
            ).fetchall()
        )
        result.bills_written, result.allocations_appended = import_bills(
            conn, bills, _invoice_holders(conn, workbook), case_ids
        )
    rows: list[Parsed | BillRow] = [*pending, *bills]
    _record_outcomes(conn, rows, run_id)
    was_error = {i for i, *_, status in retried if status == "error"}
    result.processed = sum(not r.errors for r in rows)
    result.errors = len(rows) - result.processed
    result.healed = sum(not r.errors and r.staging_id in was_error for r in rows)
    result.messages = [e["message"] for r in rows for e in r.errors]
    return result


def pending_error_rows(conn: psycopg.Connection) -> int:
    """Staging rows in error whose cause lies outside the workbook (DoorLoop data not yet in the
    warehouse, a document not yet in its folder, a case not yet imported): the rows the next
    import may heal without the workbook changing, so a sensor knows when one is worth running."""
    return conn.execute(
        "SELECT count(*) FROM legal_case_import_staging WHERE status = 'error' "
        "AND errors @> '[{\"heals\": true}]'::jsonb"
    ).fetchone()[0]


def _stage(conn: psycopg.Connection, path: Path, workbook: str, run_id: str, result: ImportResult) -> None:
    """Every row of the workbook into staging; a changed row becomes pending again, others keep their status."""
    conn.execute(
        "CREATE TEMP TABLE legal_stage (sheet text, row_number integer, case_key text, raw jsonb, "
        "row_hash text) ON COMMIT DROP"
    )
    with conn.cursor().copy("COPY legal_stage (sheet, row_number, case_key, raw, row_hash) FROM STDIN") as copy:
        for row in read_workbook(path):
            key = row.field("case_key")[1]
            copy.write_row(
                (
                    row.sheet,
                    row.row_number,
                    str(key).strip() if key is not None else None,
                    json.dumps(row.raw),
                    row.row_hash,
                )
            )
            result.rows += 1
            result.bill_rows += row.sheet == BILLS_SHEET
    _adopt_rows_staged_by_name(conn, workbook, path.name)
    result.staged = conn.execute(
        "INSERT INTO legal_case_import_staging AS s (workbook_path, file_name, sheet, row_number, case_key, raw, "
        "row_hash, run_id) SELECT %s, %s, sheet, row_number, case_key, raw, row_hash, %s FROM legal_stage "
        "ON CONFLICT (workbook_path, sheet, row_number) DO UPDATE SET file_name = EXCLUDED.file_name, "
        "case_key = EXCLUDED.case_key, raw = EXCLUDED.raw, row_hash = EXCLUDED.row_hash, status = 'pending', "
        "errors = '[]'::jsonb, processed_at = NULL, run_id = EXCLUDED.run_id WHERE s.row_hash <> EXCLUDED.row_hash",
        (workbook, path.name, run_id),
    ).rowcount
    conn.execute("DROP TABLE legal_stage")


def _import_cases(
    conn: psycopg.Connection, pending: list[Parsed], store: DocumentStore, folder: Path, result: ImportResult
) -> None:
    """Validate, link and apply the Cases rows in sheet order; write cases and history, file documents."""
    links = Links(conn)
    keys = {p.case_key for p in pending if p.case_key}
    cases, paths = _load_cases(conn, keys), DocumentPaths(conn, keys)
    history: list[tuple] = []
    filings: list[Filing] = []
    for parsed in pending:
        documents = check_documents(parsed, folder)
        if parsed.errors:
            continue
        case = cases.setdefault(parsed.case_key, CaseState())
        # a later row of a known case may leave the links out: the case keeps those it has
        names_links = any(
            parsed.values[k] for k in ("tenant_doorloop_id", "lease_doorloop_id", "property", "unit", "tenant_name")
        )
        resolved = links.resolve(parsed) if names_links or case.current_phase is None else {}
        if parsed.errors:
            continue
        property_id = resolved["property_id"] if "property_id" in resolved else case.values.get("property_id")
        planned = paths.plan(parsed, documents, links.property_names.get(property_id))
        if parsed.errors:
            continue
        _apply(parsed, resolved, case, history)
        if not parsed.errors:
            paths.claim(planned)
            filings += planned
    _write(conn, cases, history)
    result.documents_filed = _file_documents(conn, store, filings)
    result.documents_unchanged = len(filings) - result.documents_filed
    result.cases_written = sum(c.changed for c in cases.values())
    result.history_appended = len(history)


def _invoice_holders(conn: psycopg.Connection, workbook: str) -> dict[str, int]:
    """Invoice number → the first row of the workbook's sheet Bills naming it (bounded by the sheet)."""
    holders: dict[str, int] = {}
    for number, raw in conn.execute(
        "SELECT row_number, raw FROM legal_case_import_staging WHERE workbook_path = %s AND sheet = %s "
        "ORDER BY row_number",
        (workbook, BILLS_SHEET),
    ).fetchall():
        invoice = invoice_of(SheetRow(number, raw, BILLS_SHEET))
        if invoice:
            holders.setdefault(invoice, number)
    return holders


def _load_cases(conn: psycopg.Connection, keys: set[str]) -> dict[str, CaseState]:
    rows = conn.execute(
        sql.SQL("SELECT case_key, {} FROM legal_cases WHERE case_key = ANY(%s)").format(
            sql.SQL(", ").join(map(sql.Identifier, CASE_COLUMNS))
        ),
        (sorted(keys),),
    ).fetchall()
    cases = {}
    for key, *values in rows:
        state = dict(zip(CASE_COLUMNS, values, strict=True))
        cases[key] = CaseState(state["current_phase"], state["paused_from_phase"], state)
    return cases


def _apply(parsed: Parsed, resolved: dict[str, Any], case: CaseState, history: list[tuple]) -> None:
    v = parsed.values
    try:
        steps: list[Step] = move(case.current_phase, case.paused_from_phase, v["phase"])
    except PhaseError as exc:
        errors = RowErrors(parsed.row, parsed.case_key)
        errors.add(parsed.row.field("phase")[0], f"{v['phase']} refused: {exc}")
        parsed.errors += errors.items
        return
    if v["phase"] == PAUSE and steps:
        case.paused_from_phase = case.current_phase
    elif steps:
        case.paused_from_phase = None
    if steps:
        case.current_phase = v["phase"]
        case.values["phase_date"] = v["phase_date"]
        history.extend(
            (parsed.case_key, s.from_phase, s.to_phase, s.skipped, v["phase_date"], parsed.staging_id) for s in steps
        )
    updates = {
        **resolved,
        **{k: v[k] for k in ("notice_type", *DATE_FIELDS, *TEXT_FIELDS, *MONEY_FIELDS) if v[k] is not None},
    }
    before = dict(case.values)
    case.values.update(updates)
    case.values.update(
        current_phase=case.current_phase,
        paused_from_phase=case.paused_from_phase,
        is_closed=case.current_phase in CLOSED,
    )
    if steps or case.values != before:
        case.values["source_row_id"] = parsed.staging_id
        case.changed = True


def _adopt_rows_staged_by_name(conn: psycopg.Connection, workbook: str, file_name: str) -> None:
    """Rows staged before staging was keyed by the resolved path carry only the workbook's name:
    the first workbook of that name imported since takes them over, so unchanged rows stay as
    they were instead of being staged, and processed, again."""
    conn.execute(
        "UPDATE legal_case_import_staging s SET workbook_path = %s WHERE s.workbook_path IS NULL "
        "AND s.file_name = %s AND s.sheet = %s AND NOT EXISTS (SELECT 1 FROM legal_case_import_staging t "
        "WHERE t.workbook_path = %s AND t.sheet = s.sheet AND t.row_number = s.row_number)",
        (workbook, file_name, CASES_SHEET, workbook),
    )


def _file_documents(conn: psycopg.Connection, store: DocumentStore, filings: list[Filing]) -> int:
    """Send each planned document whose content is not already at its path; the number sent.

    A row of ``legal_case_documents`` belongs to one (case, phase, source file): the upsert
    updates it only for that owner (``DocumentPaths`` refused any other before sending)."""
    rows = []
    for f in filings:
        if not f.send:
            continue
        file_id, rev = store.upload(f.local, f.filed.path)
        rows.append(
            (
                case_id(f.parsed.case_key),
                f.parsed.values["phase"],
                f.local.name,
                f.source,
                f.filed.path,
                file_id,
                rev,
                f.filed.digest,
                f.local.stat().st_size,
                f.parsed.staging_id,
            )
        )
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO legal_case_documents AS d (case_id, phase, local_name, source_path, dropbox_path, "
                "file_id, rev, content_hash, size, source_row_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT ON CONSTRAINT legal_case_documents_path_key DO UPDATE SET file_id = EXCLUDED.file_id, "
                "rev = EXCLUDED.rev, content_hash = EXCLUDED.content_hash, size = EXCLUDED.size, "
                "uploaded_at = now(), source_row_id = EXCLUDED.source_row_id WHERE d.case_id = EXCLUDED.case_id "
                "AND d.phase = EXCLUDED.phase AND d.source_path = EXCLUDED.source_path",
                rows,
            )
    return len(rows)


def _write(conn: psycopg.Connection, cases: dict[str, CaseState], history: list[tuple]) -> None:
    changed = [(key, c) for key, c in cases.items() if c.changed]
    if changed:
        cols = [sql.Identifier(c) for c in CASE_COLUMNS]
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO legal_cases AS c (id, case_key, {cols}) VALUES (%s, %s, {values}) "
                    "ON CONFLICT (case_key) DO UPDATE SET {updates}, updated_at = now()"
                ).format(
                    cols=sql.SQL(", ").join(cols),
                    values=sql.SQL(", ").join(sql.Placeholder() for _ in cols),
                    updates=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in cols),
                ),
                [(case_id(key), key, *(c.values.get(col) for col in CASE_COLUMNS)) for key, c in changed],
            )
    if history:
        with conn.cursor().copy(
            "COPY legal_case_phase_history (case_id, from_phase, to_phase, skipped, phase_date, "
            "source_row_id) FROM STDIN"
        ) as copy:
            for key, *rest in history:
                copy.write_row((case_id(key), *rest))


def _record_outcomes(conn: psycopg.Connection, rows: list[Parsed | BillRow], run_id: str) -> None:
    """Each validated row's status and reasons, written only where they changed: a row still in
    error for the same reasons is left as it was."""
    conn.execute("CREATE TEMP TABLE legal_outcome (id bigint, status text, errors jsonb) ON COMMIT DROP")
    with conn.cursor().copy("COPY legal_outcome (id, status, errors) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((r.staging_id, "error" if r.errors else "processed", json.dumps(r.errors)))
    conn.execute(
        "UPDATE legal_case_import_staging s SET status = o.status, errors = o.errors, processed_at = now(), "
        "run_id = %s FROM legal_outcome o WHERE s.id = o.id "
        "AND (s.status, s.errors) IS DISTINCT FROM (o.status, o.errors)",
        (run_id,),
    )
    conn.execute("DROP TABLE legal_outcome")
