-- Each document filed for a case: where it came from (its path relative to the documents
-- folder), where it was filed (Dropbox, or the local store), the store's file id and
-- revision, and its content hash (sha256). A file filed again with the same hash is not
-- sent again; a stored path belongs to one (case, phase, source file).
-- requires: legal_cases
CREATE TABLE IF NOT EXISTS legal_case_documents (
    id bigserial PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES legal_cases (id),
    phase text NOT NULL,
    local_name text NOT NULL,
    source_path text NOT NULL,
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
-- upgrade a table without source_path: documents filed before carry their file name
ALTER TABLE legal_case_documents ADD COLUMN IF NOT EXISTS source_path text;
UPDATE legal_case_documents SET source_path = local_name WHERE source_path IS NULL;
ALTER TABLE legal_case_documents ALTER COLUMN source_path SET NOT NULL;
-- the case's folder of /Legal/<property>/<case>/<phase>/<file>, as the importer looks paths up
CREATE INDEX IF NOT EXISTS legal_case_documents_case_folder_idx
    ON legal_case_documents (lower(split_part(dropbox_path, '/', 4)));
