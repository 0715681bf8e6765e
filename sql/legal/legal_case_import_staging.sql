-- Every row of every imported legal workbook, as read: the raw cells (unknown columns
-- too), the row's hash, and what became of it. A bad row stays here with its reasons;
-- re-importing an unchanged row changes nothing. Rows are keyed by the workbook's resolved
-- path (two workbooks of the same name in different folders never share rows); rows staged
-- before that have no path, and the next workbook of their file name takes them over.
CREATE TABLE IF NOT EXISTS legal_case_import_staging (
    id bigserial PRIMARY KEY,
    workbook_path text,
    file_name text NOT NULL,
    sheet text NOT NULL,
    row_number integer NOT NULL,
    case_key text,
    raw jsonb NOT NULL,
    row_hash text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'error')),
    errors jsonb NOT NULL DEFAULT '[]'::jsonb,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    run_id text
);
-- upgrade a table keyed by (file_name, sheet, row_number): idempotent, rows kept
ALTER TABLE legal_case_import_staging ADD COLUMN IF NOT EXISTS workbook_path text;
ALTER TABLE legal_case_import_staging DROP CONSTRAINT IF EXISTS legal_case_import_staging_row_key;
CREATE UNIQUE INDEX IF NOT EXISTS legal_case_import_staging_row_key
    ON legal_case_import_staging (workbook_path, sheet, row_number);
CREATE INDEX IF NOT EXISTS legal_case_import_staging_status_idx ON legal_case_import_staging (status);
