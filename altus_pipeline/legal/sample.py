"""A sample legal workbook and its documents, for the demo.

A few cases against tenants of the warehouse, named the way the legal team names them
(property, unit, tenant name), each moved through its phases row by row and carrying a
small generated document, so one import shows staging, phase history, skipped phases, an
off-ramp and the document store at work. ``SAMPLE_CASES`` is the whole script.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import psycopg
from openpyxl import Workbook

HEADER = [
    "Case Key",
    "Property",
    "Unit",
    "Tenant Name",
    "Phase",
    "Phase Date",
    "Notice Type",
    "Amount Owed",
    "Documents",
]


@dataclass(frozen=True)
class SampleRow:
    """One workbook row of a sample case: its phase, days before the as-of date, and a document."""

    phase: str
    days_ago: int
    document: str | None = None
    notice_type: str | None = None
    amount_owed: float | None = None


SAMPLE_CASES: dict[str, list[SampleRow]] = {
    "EV-DEMO-001": [SampleRow("referral", 12, "ledger.txt", amount_owed=2450.00)],
    "EV-DEMO-002": [
        SampleRow("referral", 40, amount_owed=1800.00),
        SampleRow("notice_served", 33, "notice-to-pay.pdf", "PAY_OR_QUIT"),
    ],
    "EV-DEMO-003": [
        SampleRow("notice_served", 70, "notice-to-quit.pdf", "UNCONDITIONAL_QUIT"),
        SampleRow("filed", 55, "complaint.pdf"),
        SampleRow("hearing_scheduled", 20, "hearing-notice.pdf"),
    ],
    "EV-DEMO-004": [SampleRow("referral", 120, amount_owed=5320.00), SampleRow("judgment", 30, "judgment.pdf")],
    "EV-DEMO-005": [
        SampleRow("notice_served", 60, "cure-notice.pdf", "CURE_OR_QUIT"),
        SampleRow("settled", 15, "settlement.pdf"),
    ],
}


def tenancies(conn: psycopg.Connection, count: int) -> list[tuple[str, str, str]]:
    """Up to ``count`` (property, unit, tenant name) the importer resolves by names alone: a property
    name no other property has, a tenant on a one-unit lease, that tenant's latest lease."""
    return conn.execute(
        "SELECT p.name, u.name, coalesce(t.full_name, t.name) FROM normalized_lease_tenants lt "
        "JOIN normalized_leases l ON l.id = lt.lease_id JOIN normalized_tenants t ON t.id = lt.tenant_id "
        "JOIN normalized_lease_units lu ON lu.lease_id = l.id JOIN normalized_units u ON u.id = lu.unit_id "
        "JOIN normalized_properties p ON p.id = u.property_id "
        "WHERE lt.gone_at IS NULL AND l.gone_at IS NULL AND t.gone_at IS NULL AND u.gone_at IS NULL "
        "AND p.gone_at IS NULL AND coalesce(t.full_name, t.name) IS NOT NULL "
        "AND (SELECT count(*) FROM normalized_properties q WHERE lower(q.name) = lower(p.name)) = 1 "
        "AND (SELECT count(*) FROM normalized_lease_units x WHERE x.lease_id = l.id) = 1 "
        "AND l.start = (SELECT max(l2.start) FROM normalized_lease_tenants lt2 JOIN normalized_leases l2 "
        "  ON l2.id = lt2.lease_id WHERE lt2.tenant_id = t.id) "
        "ORDER BY l.doorloop_id LIMIT %s",
        (count,),
    ).fetchall()


def pdf(text: str) -> bytes:
    """A one-page PDF showing ``text``: small, valid, and different for every document."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_sample(conn: psycopg.Connection, folder: Path, as_of: dt.date) -> Path:
    """``folder/cases.xlsx`` and the documents it lists (next to it), for as many sample cases as
    the warehouse has tenancies to name; the workbook's path. Written the same way every time, so
    importing it again changes nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "Cases"
    sheet.append(HEADER)
    for (key, rows), (prop, unit, tenant) in zip(
        SAMPLE_CASES.items(), tenancies(conn, len(SAMPLE_CASES)), strict=False
    ):
        for row in rows:
            if row.document:
                text = f"{key} {row.phase.replace('_', ' ')}: {tenant}, {unit}, {prop}"
                (folder / row.document).write_bytes(
                    text.encode() + b"\n" if row.document.endswith(".txt") else pdf(text)
                )
            sheet.append(
                [
                    key,
                    prop,
                    unit,
                    tenant,
                    row.phase,
                    as_of - dt.timedelta(days=row.days_ago),
                    row.notice_type,
                    row.amount_owed,
                    row.document,
                ]
            )
    path = folder / "cases.xlsx"
    book.save(path)
    return path


def case_phases(conn: psycopg.Connection) -> list[tuple[str, str, dt.date, int]]:
    """(case key, current phase, phase date, documents filed) of every case, by key."""
    return conn.execute(
        "SELECT c.case_key, c.current_phase, c.phase_date, count(d.id) FROM legal_cases c "
        "LEFT JOIN legal_case_documents d ON d.case_id = c.id GROUP BY c.id ORDER BY c.case_key"
    ).fetchall()
