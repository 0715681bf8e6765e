-- What was paid against which invoice: each import that changes a bill's paid amount appends
-- the difference (negative when the legal team corrects a payment down), with the workbook
-- row it came from. Appended, never updated or deleted (a trigger refuses both): the
-- allocations of a bill add up to its paid_amount.
-- requires: legal_case_bills
CREATE TABLE IF NOT EXISTS legal_bill_allocations (
    id bigserial PRIMARY KEY,  -- order of recording
    bill_id uuid NOT NULL REFERENCES legal_case_bills (id),  -- the invoice paid against
    amount numeric(14, 2) NOT NULL CHECK (amount <> 0),  -- the change of the bill's paid amount (negative for a correction down)
    source_row_id bigint REFERENCES legal_case_import_staging (id),  -- the staging row whose import changed the paid amount
    recorded_at timestamptz NOT NULL DEFAULT now()  -- when the import recorded it
);
CREATE INDEX IF NOT EXISTS legal_bill_allocations_bill_idx ON legal_bill_allocations (bill_id, id);
CREATE OR REPLACE FUNCTION legal_bill_allocations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'legal_bill_allocations is append-only: % refused', TG_OP;
END $$;
DROP TRIGGER IF EXISTS legal_bill_allocations_append_only ON legal_bill_allocations;
CREATE TRIGGER legal_bill_allocations_append_only BEFORE UPDATE OR DELETE ON legal_bill_allocations
    FOR EACH ROW EXECUTE FUNCTION legal_bill_allocations_append_only();
