"""Reading the legal team's workbook: sheet ``Cases``, header on row 1, one case per row.

Header names match case-insensitively, ignoring spaces, underscores and hyphens; columns
we do not know are kept in the row's raw JSON. Formulas are read as their cached values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

CASES_SHEET = "Cases"
# header (normalized) → field
COLUMNS: dict[str, str] = {
    "casekey": "case_key", "docketnumber": "docket_number", "tenantdoorloopid": "tenant_doorloop_id",
    "leasedoorloopid": "lease_doorloop_id", "property": "property", "unit": "unit", "tenantname": "tenant_name",
    "phase": "phase", "phasedate": "phase_date", "noticetype": "notice_type", "noticeserved": "notice_served",
    "filingdate": "filing_date", "hearingdate": "hearing_date", "judgmentdate": "judgment_date",
    "writissued": "writ_issued", "possessiondate": "possession_date", "court": "court", "county": "county",
    "amountowed": "amount_owed", "judgmentamount": "judgment_amount", "attorney": "attorney",
    "documents": "documents", "notes": "notes",
}


class WorkbookError(ValueError):
    """The file as a whole cannot be read (wrong type, no Cases sheet, no Case Key column)."""


def header_key(text: object) -> str:
    return re.sub(r"[\s_\-]+", "", str(text or "")).lower()


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


@dataclass(frozen=True)
class SheetRow:
    """One non-empty row: its sheet row number, the cells by their header, and a hash of them."""

    row_number: int
    raw: dict[str, Any]

    @property
    def row_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()

    @cached_property
    def _fields(self) -> dict[str, tuple[str, Any]]:
        """Known field → (the header as written, the value); the first such column wins."""
        fields: dict[str, tuple[str, Any]] = {}
        for header, value in self.raw.items():
            name = COLUMNS.get(header_key(header))
            if name is not None:
                fields.setdefault(name, (header, value))
        return fields

    def field(self, name: str) -> tuple[str, Any]:
        """(the header as written, the value) of a known field; (its usual name, None) if absent."""
        return self._fields.get(name) or (name.replace("_", " ").title(), None)


def read_cases(path: Path) -> Iterator[SheetRow]:
    """The rows of sheet ``Cases``, streamed (read-only mode: big workbooks stay out of memory)."""
    from openpyxl import load_workbook

    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path.name}: expected an .xlsx workbook (macro workbooks and other formats are refused)")
    if not path.is_file():
        raise WorkbookError(f"{path}: no such file")
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        if CASES_SHEET not in book.sheetnames:
            raise WorkbookError(f"{path.name}: no sheet named {CASES_SHEET!r} (found {', '.join(book.sheetnames)})")
        rows = book[CASES_SHEET].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        if "casekey" not in {header_key(h) for h in header}:
            raise WorkbookError(f"{path.name}: sheet {CASES_SHEET!r} has no 'Case Key' column on row 1")
        for number, cells in enumerate(rows, start=2):
            raw = {h: _json_value(v) for h, v in zip(header, cells) if h}
            if any(v is not None for v in raw.values()):
                yield SheetRow(number, raw)
    finally:
        book.close()
