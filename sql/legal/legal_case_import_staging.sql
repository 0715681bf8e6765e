-- Every row of every imported legal workbook (sheets Cases and Bills), as read: the raw
-- cells (unknown columns too), the row's hash, and what became of it. A bad row stays here
-- with its reasons and is validated again by every import until it passes (its cause may
-- be outside the workbook); re-importing an unchanged, processed row changes nothing. Rows are keyed by the workbook's resolved
-- path (two workbooks of the same name in different folders never share rows); rows staged
-- before that have no path, and the next workbook of their file name takes them over.
CREATE TABLE IF NOT EXISTS legal_case_import_staging (
    id bigserial PRIMARY KEY,  -- staging row id
    workbook_path text,  -- the workbook's resolved path (NULL on rows staged before paths were kept)
    file_name text NOT NULL,  -- the workbook's file name
    sheet text NOT NULL,  -- Cases or Bills
    row_number integer NOT NULL,  -- the row's number in its sheet
    case_key text,  -- the row's Case Key, as written
    raw jsonb NOT NULL,  -- every cell of the row by its header, unknown columns too
    row_hash text NOT NULL,  -- sha256 of the cells: a changed row is validated again
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'error')),  -- pending, processed or error
    errors jsonb NOT NULL DEFAULT '[]'::jsonb,  -- the reasons: field, message, and heals when the cause is outside the workbook
    first_seen_at timestamptz NOT NULL DEFAULT now(),  -- first staged
    processed_at timestamptz,  -- when its status or reasons last changed
    run_id text  -- the run that last wrote it
);
-- upgrade a table keyed by (file_name, sheet, row_number): idempotent, rows kept
ALTER TABLE legal_case_import_staging ADD COLUMN IF NOT EXISTS workbook_path text;
ALTER TABLE legal_case_import_staging DROP CONSTRAINT IF EXISTS legal_case_import_staging_row_key;
CREATE UNIQUE INDEX IF NOT EXISTS legal_case_import_staging_row_key
    ON legal_case_import_staging (workbook_path, sheet, row_number);
CREATE INDEX IF NOT EXISTS legal_case_import_staging_status_idx ON legal_case_import_staging (status);
