-- Each document filed for a case: where it came from (its path relative to the documents
-- folder), where it was filed (Dropbox, or the local store), the store's file id and
-- revision, and its content hash (sha256). A file filed again with the same hash is not
-- sent again; a stored path belongs to one (case, phase, source file).
-- requires: legal_cases
CREATE TABLE IF NOT EXISTS legal_case_documents (
    id bigserial PRIMARY KEY,  -- order of filing
    case_id uuid NOT NULL REFERENCES legal_cases (id),  -- the case
    phase text NOT NULL,  -- the phase the row listing it moved the case to
    local_name text NOT NULL,  -- the file's name
    source_path text NOT NULL,  -- its path relative to the documents folder
    dropbox_path text NOT NULL,  -- where it is filed: /Legal/<property>/<case>/<phase>/<file>
    file_id text NOT NULL,  -- the store's file id
    rev text NOT NULL,  -- the store's revision
    content_hash text NOT NULL,  -- sha256 of the content; the same content is not sent again
    size bigint NOT NULL,  -- bytes
    uploaded_at timestamptz NOT NULL DEFAULT now(),  -- when it was last sent
    source_row_id bigint REFERENCES legal_case_import_staging (id),  -- the staging row that listed it
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
