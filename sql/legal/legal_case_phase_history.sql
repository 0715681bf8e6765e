-- Every accepted phase change of every case, in order: appended, never updated or deleted
-- (a trigger refuses both). A phase passed over by a jump forward is a row with skipped.
-- requires: legal_cases
CREATE TABLE IF NOT EXISTS legal_case_phase_history (
    id bigserial PRIMARY KEY,  -- order of recording
    case_id uuid NOT NULL REFERENCES legal_cases (id),  -- the case
    from_phase text,  -- the phase left (NULL for the case's first)
    to_phase text NOT NULL,  -- the phase entered
    skipped boolean NOT NULL DEFAULT false,  -- a phase passed over by a jump forward
    phase_date date NOT NULL,  -- the date of the move, from the workbook row
    source_row_id bigint REFERENCES legal_case_import_staging (id),  -- the staging row that moved the case
    recorded_at timestamptz NOT NULL DEFAULT now()  -- when the import recorded it
);
CREATE INDEX IF NOT EXISTS legal_case_phase_history_case_idx ON legal_case_phase_history (case_id, id);
CREATE OR REPLACE FUNCTION legal_case_phase_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'legal_case_phase_history is append-only: % refused', TG_OP;
END $$;
DROP TRIGGER IF EXISTS legal_case_phase_history_append_only ON legal_case_phase_history;
CREATE TRIGGER legal_case_phase_history_append_only BEFORE UPDATE OR DELETE ON legal_case_phase_history
    FOR EACH ROW EXECUTE FUNCTION legal_case_phase_history_append_only();
