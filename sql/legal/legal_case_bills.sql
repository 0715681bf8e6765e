-- One row per invoice of the legal team's sheet Bills (the Invoice Number is the key): the case
-- it bills, its dates, the amount billed and the amount paid so far (never more than billed).
-- A workbook row updates its invoice; what was paid against it over time is
-- legal_bill_allocations.
-- requires: legal_cases
CREATE TABLE IF NOT EXISTS legal_case_bills (
    id uuid PRIMARY KEY,  -- uuid5 of the invoice number
    invoice_number text NOT NULL UNIQUE,  -- the legal team's invoice number (sheet Bills): the key
    case_id uuid NOT NULL REFERENCES legal_cases (id),  -- the case billed
    invoice_date date NOT NULL,  -- the invoice's date
    due_date date,  -- when it is due, when given (never before the invoice date)
    amount numeric(14, 2) NOT NULL CHECK (amount >= 0),  -- amount billed
    paid_amount numeric(14, 2) NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),  -- amount paid so far, at most amount; the sum of its allocations
    source_row_id bigint REFERENCES legal_case_import_staging (id),  -- the staging row that last wrote the bill
    created_at timestamptz NOT NULL DEFAULT now(),  -- first imported
    updated_at timestamptz NOT NULL DEFAULT now()  -- last changed by an import
);
CREATE INDEX IF NOT EXISTS legal_case_bills_case_idx ON legal_case_bills (case_id);
