-- Each document filed for a case: where it came from, where it was filed (Dropbox, or the
-- local store), the store's file id and revision, and its content hash (sha256). A file
-- filed again with the same hash is not sent again.
-- requires: legal_cases
CREATE TABLE IF NOT EXISTS legal_case_documents (
    id bigserial PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES legal_cases (id),
    phase text NOT NULL,
    local_name text NOT NULL,
    dropbox_path text NOT NULL,
    file_id text NOT NULL,
    rev text NOT NULL,
    content_hash text NOT NULL,
    size bigint NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    source_row_id bigint REFERENCES legal_case_import_staging (id),
    CONSTRAINT legal_case_documents_path_key UNIQUE (dropbox_path)
);
CREATE INDEX IF NOT EXISTS legal_case_documents_case_idx ON legal_case_documents (case_id);
