-- Every row of every imported legal workbook, as read: the raw cells (unknown columns
-- too), the row's hash, and what became of it. A bad row stays here with its reasons;
-- re-importing an unchanged row changes nothing.
CREATE TABLE IF NOT EXISTS legal_case_import_staging (
    id bigserial PRIMARY KEY,
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
    run_id text,
    CONSTRAINT legal_case_import_staging_row_key UNIQUE (file_name, sheet, row_number)
);
CREATE INDEX IF NOT EXISTS legal_case_import_staging_status_idx ON legal_case_import_staging (status);
