-- Every accepted phase change of every case, in order: appended, never updated or deleted
-- (a trigger refuses both). A phase passed over by a jump forward is a row with skipped.
-- requires: legal_cases
CREATE TABLE IF NOT EXISTS legal_case_phase_history (
    id bigserial PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES legal_cases (id),
    from_phase text,
    to_phase text NOT NULL,
    skipped boolean NOT NULL DEFAULT false,
    phase_date date NOT NULL,
    source_row_id bigint REFERENCES legal_case_import_staging (id),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS legal_case_phase_history_case_idx ON legal_case_phase_history (case_id, id);
CREATE OR REPLACE FUNCTION legal_case_phase_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'legal_case_phase_history is append-only: % refused', TG_OP;
END $$;
DROP TRIGGER IF EXISTS legal_case_phase_history_append_only ON legal_case_phase_history;
CREATE TRIGGER legal_case_phase_history_append_only BEFORE UPDATE OR DELETE ON legal_case_phase_history
    FOR EACH ROW EXECUTE FUNCTION legal_case_phase_history_append_only();
