"""The empty legal workbook the legal team starts from: sheets ``Cases`` and ``Bills`` with the
exact headers the import reads, and a drop-down of the phases on the Phase column.

The headers come from the import's own column lists (``workbook.COLUMNS``, ``BILL_COLUMNS``) and the phases from
``phases.PHASES``, so a column or phase added there appears here and in the export without an
edit: the template can never offer a column the import would not read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from altus_pipeline.legal.phases import PHASES
from altus_pipeline.legal.workbook import BILL_COLUMNS, BILLS_SHEET, CASES_SHEET, COLUMNS

if TYPE_CHECKING:  # openpyxl is imported where a workbook is written, not by every command that reads the headers
    from openpyxl.worksheet.worksheet import Worksheet

_WORDS = {"doorloop": "DoorLoop", "id": "ID"}  # how the import's field names are written as headers
DATE_NUMBER_FORMAT = "yyyy-mm-dd"
MONEY_NUMBER_FORMAT = "#,##0.00"
TEMPLATE_ROWS = 5000  # rows of the Cases sheet the phase drop-down covers


def display_header(field: str) -> str:
    """``tenant_doorloop_id`` → ``Tenant DoorLoop ID``: the header the legal team sees for a field."""
    return " ".join(_WORDS.get(word, word.capitalize()) for word in field.split("_"))


CASES_HEADERS: tuple[str, ...] = tuple(display_header(field) for field in COLUMNS.values())
BILLS_HEADERS: tuple[str, ...] = tuple(display_header(field) for field in BILL_COLUMNS.values())
DATE_HEADERS = frozenset(
    display_header(f)
    for f in (
        "phase_date",
        "notice_served",
        "filing_date",
        "hearing_date",
        "judgment_date",
        "writ_issued",
        "possession_date",
        "invoice_date",
        "due_date",
    )
)
MONEY_HEADERS = frozenset(display_header(f) for f in ("amount_owed", "judgment_amount", "amount", "paid_amount"))


def style_sheet(
    sheet: Worksheet,
    headers: list[str] | tuple[str, ...],
    widths: dict[str, int] | None = None,
    money: frozenset[str] = MONEY_HEADERS,
) -> None:
    """Bold frozen header row, a filter on it, column widths, and date and money formats by header."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        letter = get_column_letter(index)
        sheet.cell(row=1, column=index).font = Font(bold=True)
        sheet.column_dimensions[letter].width = (widths or {}).get(header, max(12, len(header) + 2))
        number_format = (
            DATE_NUMBER_FORMAT if header in DATE_HEADERS else MONEY_NUMBER_FORMAT if header in money else None
        )
        if number_format:
            sheet.column_dimensions[letter].number_format = number_format  # rows typed in later, too
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
    if headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(sheet.max_row, 1)}"


def add_phase_list(sheet: Worksheet, headers: list[str] | tuple[str, ...], last_row: int) -> None:
    """A drop-down of ``PHASES`` on the Phase column, rows 2..``last_row``."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    column = get_column_letter(list(headers).index(display_header("phase")) + 1)
    # an inline list is bounded by Excel to 255 characters; the phases fit (a test holds it)
    validation = DataValidation(
        type="list",
        formula1=f'"{",".join(PHASES)}"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Unknown phase",
        error="Choose one of the phases of the list (docs/legal.md#phases).",
    )
    validation.add(f"{column}2:{column}{max(last_row, 2)}")
    sheet.add_data_validation(validation)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary ``.xlsx`` beside ``path`` to write, renamed over ``path`` once written: a
    reader (or a sensor hashing the file) never sees a half-written workbook, and a failed
    write leaves the previous one in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        temp.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)  # mkstemp's 0600 would hide it
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_template(path: Path) -> Path:
    """Write the empty workbook to ``path`` (an ``.xlsx``); returns the path."""
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path.name}: the template is an .xlsx workbook; name it so")
    from openpyxl import Workbook

    book = Workbook()
    cases = book.active
    cases.title = CASES_SHEET
    cases.append(list(CASES_HEADERS))
    style_sheet(cases, CASES_HEADERS)
    add_phase_list(cases, CASES_HEADERS, TEMPLATE_ROWS)
    bills = book.create_sheet(BILLS_SHEET)
    bills.append(list(BILLS_HEADERS))
    style_sheet(bills, BILLS_HEADERS)
    with replacing(path) as temp:
        book.save(temp)
    return path
