"""Sheet ``Bills``: the legal team's invoices per case → ``legal_case_bills``, and what was paid
against each invoice → ``legal_bill_allocations``.

An invoice is one row, keyed by its Invoice Number: the first row of a workbook naming it holds
it, a later one is an error on that row (an edit belongs on the row that holds it). A row is
validated cell by cell (required invoice number, case key, invoice date and amount; money not
negative; paid not above the amount; due date not before the invoice date) and its case must
exist; a case not imported yet is an error that heals once it is. Valid rows are upserted in
one statement that writes only what changed, and every change of a bill's paid amount appends
its difference to the allocations in the same statement, so the allocations of a bill always
add up to what it says is paid and a settled re-import writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg

from altus_pipeline.legal.cells import RowErrors, parse_date, parse_money
from altus_pipeline.legal.workbook import SheetRow
from altus_pipeline.normalized.spec import NAMESPACE

_UPSERT = """
WITH before AS (
    SELECT b.invoice_number, b.paid_amount FROM legal_case_bills b JOIN legal_bill_stage s USING (invoice_number)
),
written AS (
    INSERT INTO legal_case_bills AS b (id, invoice_number, case_id, invoice_date, due_date, amount, paid_amount,
                                       source_row_id)
    SELECT id, invoice_number, case_id, invoice_date, due_date, amount, paid_amount, source_row_id
    FROM legal_bill_stage
    ON CONFLICT (invoice_number) DO UPDATE SET case_id = EXCLUDED.case_id, invoice_date = EXCLUDED.invoice_date,
        due_date = EXCLUDED.due_date, amount = EXCLUDED.amount, paid_amount = EXCLUDED.paid_amount,
        source_row_id = EXCLUDED.source_row_id, updated_at = now()
    WHERE (b.case_id, b.invoice_date, b.due_date, b.amount, b.paid_amount)
          IS DISTINCT FROM (EXCLUDED.case_id, EXCLUDED.invoice_date, EXCLUDED.due_date, EXCLUDED.amount,
                            EXCLUDED.paid_amount)
    RETURNING b.id, b.invoice_number, b.paid_amount, b.source_row_id
),
allocated AS (
    INSERT INTO legal_bill_allocations (bill_id, amount, source_row_id)
    SELECT w.id, w.paid_amount - coalesce(before.paid_amount, 0), w.source_row_id
    FROM written w LEFT JOIN before USING (invoice_number)
    WHERE w.paid_amount <> coalesce(before.paid_amount, 0)
    RETURNING 1
)
SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM allocated)
"""


def bill_id(invoice_number: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"legal_case_bills:{invoice_number}")


@dataclass
class BillRow:
    """A staged Bills row read into typed fields; ``errors`` as ``RowErrors`` items."""

    staging_id: int
    row: SheetRow
    invoice_number: str | None
    case_key: str | None
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)


def invoice_of(row: SheetRow) -> str | None:
    value = row.field("invoice_number")[1]
    return str(value).strip() or None if value is not None else None


def parse_bill(staging_id: int, row: SheetRow) -> BillRow:
    """Validate one row cell by cell; every problem is an error naming the row, invoice and column."""
    key = row.field("case_key")[1]
    bill = BillRow(staging_id, row, invoice_of(row), str(key).strip() or None if key is not None else None)
    errors = RowErrors(row, bill.invoice_number)
    if not bill.invoice_number:
        errors.add(row.field("invoice_number")[0], "is required (the invoice's number, e.g. INV-1042)")
    if not bill.case_key:
        errors.add(row.field("case_key")[0], "is required (the Case Key of the case billed)")
    for name, required in (("invoice_date", True), ("due_date", False)):
        header, value = row.field(name)
        bill.values[name] = parse_date(value) if value is not None else None
        if value is None and required:
            errors.add(header, "is required")
        elif value is not None and bill.values[name] is None:
            errors.add(header, f"{value!r} is not a date (YYYY-MM-DD)")
    issued, due = bill.values["invoice_date"], bill.values["due_date"]
    if issued and due and due < issued:
        errors.add(row.field("due_date")[0], f"{due.isoformat()} is before the invoice date {issued.isoformat()}")
    for name, default in (("amount", None), ("paid_amount", Decimal("0.00"))):
        header, value = row.field(name)
        amount = parse_money(value) if value is not None else default
        if value is None and default is None:
            errors.add(header, "is required")
        elif amount is None:
            errors.add(header, f"{value!r} is not an amount")
        elif amount < 0:
            errors.add(header, f"{value!r} is negative (an amount billed or paid is zero or more)")
            amount = None
        bill.values[name] = amount
    billed, paid = bill.values["amount"], bill.values["paid_amount"]
    if billed is not None and paid is not None and paid > billed:
        errors.add(row.field("paid_amount")[0], f"{paid} is more than the amount billed, {billed}")
    bill.errors = errors.items
    return bill


def import_bills(
    conn: psycopg.Connection, bills: list[BillRow], holders: dict[str, int], case_ids: dict[str, uuid.UUID]
) -> tuple[int, int]:
    """Apply the valid ``bills`` (errors for the others); (bills written, allocations appended).

    ``holders``: invoice number → the row number of the workbook's row that holds it (its first);
    ``case_ids``: case key → id of every case the rows name that exists."""
    valid = []
    for bill in bills:
        errors = RowErrors(bill.row, bill.invoice_number)
        holder = holders.get(bill.invoice_number) if bill.invoice_number else None
        if holder is not None and holder != bill.row.row_number:
            errors.add(
                bill.row.field("invoice_number")[0],
                f"is also on row {holder}; an invoice is one row (edit that row instead)",
            )
        if bill.case_key and bill.case_key not in case_ids:
            errors.add(
                bill.row.field("case_key")[0],
                f"{bill.case_key!r}: no such case (import its Cases row first)",
                heals=True,
            )
        bill.errors += errors.items
        if not bill.errors:
            valid.append(bill)
    if not valid:
        return 0, 0
    conn.execute(
        "CREATE TEMP TABLE legal_bill_stage (id uuid, invoice_number text, case_id uuid, invoice_date date, "
        "due_date date, amount numeric(14, 2), paid_amount numeric(14, 2), source_row_id bigint) "
        "ON COMMIT DROP"
    )
    with conn.cursor().copy("COPY legal_bill_stage FROM STDIN") as copy:
        for b in valid:
            copy.write_row(
                (
                    bill_id(b.invoice_number),
                    b.invoice_number,
                    case_ids[b.case_key],
                    b.values["invoice_date"],
                    b.values["due_date"],
                    b.values["amount"],
                    b.values["paid_amount"],
                    b.staging_id,
                )
            )
    written, allocated = conn.execute(_UPSERT).fetchone()
    conn.execute("DROP TABLE legal_bill_stage")
    return written, allocated
