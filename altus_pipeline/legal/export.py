"""The legal cases as the legal team sees them, written back to Excel: one sheet per status.

Each row is a case of ``legal_cases``: first the workbook's own columns, under the headers the
import reads (``template.CASES_HEADERS``; ``Documents`` lists the filed documents' source paths,
so a row can be copied back into the team's workbook), then what the warehouse adds: the status,
the phase history in one line, days in phase, the owner, the tenant's balance, billed, paid and
outstanding amounts (``get_full_legal_cases``) and where each document was filed.

Every case is exported: one imported after the view's last refresh is on sheet ``not
refreshed`` with the view's columns empty until the next refresh, never a missing row. The
output is bounded (``MAX_CASES``, the import's own row limit, and Excel's cell length) and
written to a temporary file renamed over the target, so a reader never sees a half-written
workbook.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from altus_pipeline.legal.template import CASES_HEADERS, MONEY_HEADERS, replacing, style_sheet
from altus_pipeline.legal.workbook import COLUMNS, MAX_ROWS

if TYPE_CHECKING:
    import pandas as pd  # imported where a workbook is written, not by every command that loads the Definitions

VIEW = "get_full_legal_cases"
MAX_CASES = MAX_ROWS  # what the import reads back from one sheet
EXCEL_CELL_CHARS = 32_767
MAX_WIDTH = 60
NOT_REFRESHED = "not refreshed"  # the status of a case imported after the view's last refresh
STATUS_ORDER = ("open", "paused", "closed")  # get_full_legal_cases' statuses, as the sheets come
# the workbook's fields that are not a column of legal_cases: read from the view or the documents
_FIELD_SOURCES = {
    "property": sql.SQL("v.property_name"),
    "unit": sql.SQL("v.unit_name"),
    "tenant_name": sql.SQL("v.tenant_name"),
    "phase": sql.SQL("c.current_phase"),
    "documents": sql.SQL("d.sources"),
}
# (header, expression) of the warehouse's columns, after the workbook's
WAREHOUSE_COLUMNS: tuple[tuple[str, sql.Composable], ...] = (
    ("Status", sql.SQL("coalesce(v.status, {})").format(sql.Literal(NOT_REFRESHED))),
    ("Phase History", sql.SQL("h.history")),
    ("Days In Phase", sql.SQL("v.days_in_phase")),
    ("Owner", sql.SQL("v.owner_name")),
    ("Tenant Balance", sql.SQL("v.tenant_balance")),
    ("Billed", sql.SQL("v.billed_amount")),
    ("Paid", sql.SQL("v.paid_amount")),
    ("Outstanding", sql.SQL("v.outstanding_amount")),
    ("Document Links", sql.SQL("d.links")),
)
EXPORT_HEADERS: tuple[str, ...] = (*CASES_HEADERS, *(h for h, _ in WAREHOUSE_COLUMNS))
_MONEY = frozenset({"Tenant Balance", "Billed", "Paid", "Outstanding"})
_WIDE = {"Phase History": MAX_WIDTH, "Document Links": MAX_WIDTH, "Documents": 40, "Notes": 40}

_QUERY = """
SELECT {columns}
FROM legal_cases c
LEFT JOIN get_full_legal_cases v ON v.case_id = c.id
LEFT JOIN (
    -- referral 2026-09-01 → (notice_served) → filed 2026-09-20: skipped phases in brackets
    SELECT case_id, string_agg(CASE WHEN skipped THEN '(' || to_phase || ')'
                                    ELSE to_phase || ' ' || to_char(phase_date, 'YYYY-MM-DD') END,
                               ' → ' ORDER BY id) AS history
    FROM legal_case_phase_history GROUP BY case_id
) h ON h.case_id = c.id
LEFT JOIN (
    SELECT case_id, string_agg(source_path, '; ' ORDER BY id) AS sources,
           string_agg(dropbox_path, '; ' ORDER BY id) AS links
    FROM legal_case_documents GROUP BY case_id
) d ON d.case_id = c.id
ORDER BY c.case_key
"""


class ExportError(ValueError):
    """The export cannot be written as asked; the message says why and what to do."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    cases: int
    sheets: dict[str, int]  # sheet name → cases on it


def _field_expression(field: str) -> sql.Composable:
    return _FIELD_SOURCES.get(field, sql.SQL("c.{}").format(sql.Identifier(field)))


def _query() -> sql.Composed:
    columns = [_field_expression(f) for f in COLUMNS.values()] + [e for _, e in WAREHOUSE_COLUMNS]
    return sql.SQL(_QUERY).format(columns=sql.SQL(", ").join(columns))


def _cell(value: Any) -> Any:
    """A value as Excel holds it: amounts as numbers, text within Excel's cell length."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and len(value) > EXCEL_CELL_CHARS:
        return value[: EXCEL_CELL_CHARS - 1] + "…"
    return value


def sheet_name(status: str) -> str:
    """An Excel sheet name for a status: no ``[]:*?/\\``, at most 31 characters."""
    return re.sub(r"[\[\]:*?/\\]", "_", status)[:31]


def _view_ready(conn: psycopg.Connection) -> None:
    row = conn.execute("SELECT c.relispopulated FROM pg_class c WHERE c.oid = to_regclass(%s)", (VIEW,)).fetchone()
    if row is None:
        raise ExportError(f"{VIEW} does not exist: run `altus db migrate`")
    if not row[0]:
        raise ExportError(f"{VIEW} has not been refreshed yet: run `altus views refresh`, then export again")


def read_cases(conn: psycopg.Connection) -> pd.DataFrame:
    """Every case with the export's columns (``EXPORT_HEADERS``), ordered by Case Key."""
    _view_ready(conn)
    count = conn.execute("SELECT count(*) FROM legal_cases").fetchone()[0]
    if count > MAX_CASES:
        raise ExportError(f"{count:,} legal cases, over the {MAX_CASES:,} one workbook holds (the import's limit)")
    rows = conn.execute(_query()).fetchall()
    import pandas as pd

    return pd.DataFrame([[_cell(v) for v in row] for row in rows], columns=list(EXPORT_HEADERS))


def _widths(frame: pd.DataFrame) -> dict[str, int]:
    widths = {}
    for header in frame.columns:
        longest = max([len(header), *(len(_shown(v)) for v in frame[header])])
        widths[header] = min(_WIDE.get(header, MAX_WIDTH), max(10, longest + 2))
    return widths


def _shown(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return "yyyy-mm-dd"
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def write_export(frame: pd.DataFrame, path: Path) -> ExportResult:
    """Write ``frame`` (``read_cases``) to ``path``: one sheet per status (``STATUS_ORDER`` first);
    a sheet ``cases`` with the headers alone when there is no case."""
    _check_target(path)
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    statuses = sorted(frame["Status"].unique(), key=lambda s: (order.get(s, len(order)), s))
    sheets: dict[str, int] = {}
    import pandas as pd

    with replacing(path) as temp:
        with pd.ExcelWriter(temp, engine="openpyxl") as writer:
            groups = [(s, frame[frame["Status"] == s]) for s in statuses] or [("cases", frame)]
            for status, group in groups:
                name = sheet_name(status)
                group.to_excel(writer, sheet_name=name, index=False)
                style_sheet(writer.book[name], EXPORT_HEADERS, _widths(group), MONEY_HEADERS | _MONEY)
                sheets[name] = len(group)
    return ExportResult(path, len(frame), sheets)


def export_cases(conn: psycopg.Connection, path: Path) -> ExportResult:
    """Read every legal case and write the export workbook to ``path`` (refused before reading
    when ``path`` is not an ``.xlsx``)."""
    _check_target(path)
    return write_export(read_cases(conn), path)


def _check_target(path: Path) -> None:
    if path.suffix.lower() != ".xlsx":
        raise ExportError(f"{path.name}: the export is an .xlsx workbook; name it so")
