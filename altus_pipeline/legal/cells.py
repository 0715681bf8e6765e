"""Typed cells of a workbook row, and the validation errors of a row.

Shared by both sheets (``importer`` for Cases, ``bills`` for Bills): a date is an ISO date
(Excel dates arrive as ``datetime`` and are staged as ISO text), money is a decimal with at
most cents of meaning, and every error names the sheet's row, its key, the column and what
was expected.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from altus_pipeline.legal.workbook import CASES_SHEET, SheetRow


class RowErrors:
    """The validation errors of one row, each naming the row, its key (case or invoice), the field
    and what was expected. ``heals`` marks a cause outside the row (DoorLoop data not yet in the
    warehouse, a document file not yet in its folder, a case not yet imported): such a row may
    pass a later import unchanged (``importer.pending_error_rows``)."""

    def __init__(self, row: SheetRow, key: str | None) -> None:
        self.row, self.key, self.items = row, key, []

    def add(self, header: str, message: str, heals: bool = False) -> None:
        sheet = "" if self.row.sheet == CASES_SHEET else f"{self.row.sheet} "
        who = f"{sheet}row {self.row.row_number}" + (f" ({self.key})" if self.key else "")
        item: dict[str, Any] = {"field": header, "message": f"{who}: {header} {message}"}
        if heals:
            item["heals"] = True
        self.items.append(item)


def parse_date(value: Any) -> dt.date | None:
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}(T00:00:00)?$", value):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def parse_money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value).replace(",", "").replace("$", "").strip())
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() and abs(amount) < Decimal("1e12") else None
