"""Reading the legal team's workbook: sheet ``Cases`` (one case per row) and the optional
sheet ``Bills`` (one invoice per row), each with its header on row 1.

Header names match case-insensitively, ignoring spaces, underscores and hyphens; columns
we do not know are kept in the row's raw JSON. Formulas are read as their cached values.

The workbook is bounded before and while it is read, so a hostile or broken file costs
seconds, not minutes or gigabytes: its size on disk and unpacked (an .xlsx is a zip), the
number of rows and columns, and the length of a cell. Anything past a bound, anything that
is not an .xlsx, and a header naming one column twice refuse the whole file in one line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

CASES_SHEET = "Cases"
BILLS_SHEET = "Bills"
MAX_FILE_BYTES = 20 << 20
MAX_UNPACKED_BYTES = 80 << 20  # the sheet's XML parses at about 6 MB/s: ~15 s at worst
MAX_ROWS = 50_000  # non-empty data rows
MAX_COLUMNS = 100
MAX_CELL_CHARS = 10_000
EXCEL_LAST_ROW = 1_048_576
# header (normalized) → field
COLUMNS: dict[str, str] = {
    "casekey": "case_key",
    "docketnumber": "docket_number",
    "tenantdoorloopid": "tenant_doorloop_id",
    "leasedoorloopid": "lease_doorloop_id",
    "property": "property",
    "unit": "unit",
    "tenantname": "tenant_name",
    "phase": "phase",
    "phasedate": "phase_date",
    "noticetype": "notice_type",
    "noticeserved": "notice_served",
    "filingdate": "filing_date",
    "hearingdate": "hearing_date",
    "judgmentdate": "judgment_date",
    "writissued": "writ_issued",
    "possessiondate": "possession_date",
    "court": "court",
    "county": "county",
    "amountowed": "amount_owed",
    "judgmentamount": "judgment_amount",
    "attorney": "attorney",
    "documents": "documents",
    "notes": "notes",
}
BILL_COLUMNS: dict[str, str] = {
    "invoicenumber": "invoice_number",
    "casekey": "case_key",
    "invoicedate": "invoice_date",
    "duedate": "due_date",
    "amount": "amount",
    "paidamount": "paid_amount",
}
# sheet → (header (normalized) → field, the header a sheet cannot do without)
SHEETS: dict[str, tuple[dict[str, str], str]] = {
    CASES_SHEET: (COLUMNS, "Case Key"),
    BILLS_SHEET: (BILL_COLUMNS, "Invoice Number"),
}


class WorkbookError(ValueError):
    """The file as a whole cannot be read (wrong type, no Cases sheet, a sheet without its key column)."""


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
    sheet: str = CASES_SHEET

    @property
    def row_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()

    @cached_property
    def _fields(self) -> dict[str, tuple[str, Any]]:
        """Known field → (the header as written, the value); a header names one column (``read_cases``)."""
        fields: dict[str, tuple[str, Any]] = {}
        columns = SHEETS[self.sheet][0]
        for header, value in self.raw.items():
            name = columns.get(header_key(header))
            if name is not None:
                fields[name] = (header, value)
        return fields

    def field(self, name: str) -> tuple[str, Any]:
        """(the header as written, the value) of a known field; (its usual name, None) if absent."""
        return self._fields.get(name) or (name.replace("_", " ").title(), None)


def read_cases(path: Path) -> Iterator[SheetRow]:
    """The rows of sheet ``Cases``, streamed (read-only mode: big workbooks stay out of memory)."""
    return read_workbook(path, bills=False)


def read_workbook(path: Path, bills: bool = True) -> Iterator[SheetRow]:
    """The rows of sheet ``Cases``, then (``bills``) those of sheet ``Bills`` when the workbook
    has one, streamed (read-only mode: big workbooks stay out of memory). Each sheet is bounded alike."""
    from openpyxl import load_workbook

    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path.name}: expected an .xlsx workbook (macro workbooks and other formats are refused)")
    if not path.is_file():
        raise WorkbookError(f"{path}: no such file")
    _check_archive(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (KeyError, ValueError, ParseError, zipfile.BadZipFile) as exc:
        raise WorkbookError(f"{path.name}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        if CASES_SHEET not in book.sheetnames:
            raise WorkbookError(f"{path.name}: no sheet named {CASES_SHEET!r} (found {', '.join(book.sheetnames)})")
        yield from _sheet_rows(path, book, CASES_SHEET)
        if bills and BILLS_SHEET in book.sheetnames:
            yield from _sheet_rows(path, book, BILLS_SHEET)
    finally:
        book.close()


def _sheet_rows(path: Path, book: Any, name: str) -> Iterator[SheetRow]:
    """The non-empty rows of one sheet, bounded in rows, columns and cell length."""
    try:
        sheet = book[name]
        sheet.reset_dimensions()  # the declared used range may be wrong (rows past it would be skipped) or hostile
        header = _header(path, name, next(sheet.iter_rows(max_row=1, values_only=True), ()))
        kept = 0
        for number, cells in enumerate(sheet.iter_rows(min_row=2, max_col=len(header), values_only=True), start=2):
            if number > EXCEL_LAST_ROW:
                raise WorkbookError(f"{path.name}: sheet {name!r} goes past Excel's last row")
            if cells.count(None) == len(cells):  # cheap: gaps in the sheet come as rows of None
                continue
            raw = {h: _cell(path, h, number, i, v) for i, (h, v) in enumerate(zip(header, cells, strict=False)) if h}
            if any(v is not None for v in raw.values()):
                kept += 1
                if kept > MAX_ROWS:
                    raise WorkbookError(f"{path.name}: sheet {name!r} has more than {MAX_ROWS:,} rows; split it")
                yield SheetRow(number, raw, name)
    except WorkbookError:
        raise
    except (ValueError, ParseError, zipfile.BadZipFile) as exc:
        raise WorkbookError(f"{path.name}: sheet {name!r} cannot be read ({type(exc).__name__})") from None


def _check_archive(path: Path) -> None:
    """Refuse what is not an .xlsx, or is too big on disk or unpacked, before openpyxl reads any of it."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise WorkbookError(f"{path.name}: {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a workbook")
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            raise WorkbookError(
                f"{path.name}: {_what_it_is(handle.read(4096))}, not an .xlsx workbook; "
                "save it from Excel as .xlsx (without a password)"
            )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise WorkbookError(f"{path.name}: a damaged zip archive, not an .xlsx workbook") from None
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise WorkbookError(f"{path.name}: a zip archive of other files, not an .xlsx workbook")
    unpacked = sum(m.file_size for m in members)  # zipfile never inflates a member past its declared size
    if unpacked > MAX_UNPACKED_BYTES:
        raise WorkbookError(
            f"{path.name}: unpacks to {unpacked:,} bytes, over the {MAX_UNPACKED_BYTES:,}-byte limit for a workbook"
        )


def _what_it_is(head: bytes) -> str:
    """What a file that is not a zip holds, from its first bytes: the user renamed something to .xlsx."""
    if not head:
        return "an empty file"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old-style .xls or a password-protected workbook"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if b"\0" in head:
        return "binary data of another kind"
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    return "a text file (a CSV or text export renamed .xlsx?)"


def _header(path: Path, sheet: str, cells: tuple) -> list[str]:
    """Row 1 as header texts, trailing empty cells dropped; refused if too wide, if it lacks the
    sheet's key column (Case Key, Invoice Number), or if two columns carry the same name (the row
    would silently keep one of them)."""
    header = [str(h).strip() if h is not None else "" for h in cells]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise WorkbookError(
            f"{path.name}: sheet {sheet!r} has {len(header):,} columns, over the limit of {MAX_COLUMNS}"
        )
    seen: dict[str, int] = {}
    for index, text in enumerate(header):
        _cell(path, text, 1, index, text)
        key = header_key(text)
        if not key:
            continue
        if key in seen:
            first = seen[key]
            raise WorkbookError(
                f"{path.name}: columns {_letter(first)} ({header[first]!r}) and {_letter(index)} "
                f"({text!r}) of sheet {sheet!r} are the same column; keep one"
            )
        seen[key] = index
    required = SHEETS[sheet][1]
    if header_key(required) not in seen:
        raise WorkbookError(f"{path.name}: sheet {sheet!r} has no {required!r} column on row 1")
    return header


def _cell(path: Path, header: str, row: int, index: int, value: Any) -> Any:
    """One cell's value for the row's JSON; refused when longer than a cell may be."""
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        raise WorkbookError(
            f"{path.name}: cell {_letter(index)}{row}"
            + (f" ({header})" if row > 1 else "")
            + f" holds {len(value):,} characters, over the limit of {MAX_CELL_CHARS:,}"
        )
    return _json_value(value)


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
