-- One row per legal case (the legal team's Case Key), linked to DoorLoop data. The links
-- are the normalized uuids (uuid5 of the DoorLoop id, stable across rebuilds of the
-- normalized layer) with their DoorLoop ids; no foreign key, because the normalized layer
-- is rebuilt from raw while cases are the legal team's own record.
-- requires: legal_case_import_staging
CREATE TABLE IF NOT EXISTS legal_cases (
    id uuid PRIMARY KEY,
    case_key text NOT NULL UNIQUE,
    docket_number text,
    tenant_id uuid,
    tenant_doorloop_id text,
    lease_id uuid,
    lease_doorloop_id text,
    unit_id uuid,
    property_id uuid,
    current_phase text NOT NULL CHECK (current_phase IN (
        'referral', 'notice_served', 'filed', 'summons_served', 'hearing_scheduled', 'judgment', 'writ_issued',
        'possession', 'collections', 'closed', 'cured', 'settled', 'dismissed', 'voluntary_move_out', 'withdrawn',
        'bankruptcy_stay')),
    phase_date date NOT NULL,
    paused_from_phase text,
    is_closed boolean NOT NULL DEFAULT false,
    notice_type text CHECK (notice_type IN ('PAY_OR_QUIT', 'CURE_OR_QUIT', 'UNCONDITIONAL_QUIT', 'NOTICE_TO_VACATE')),
    notice_served date,
    filing_date date,
    hearing_date date,
    judgment_date date,
    writ_issued date,
    possession_date date,
    court text,
    county text,
    amount_owed numeric(14, 2),
    judgment_amount numeric(14, 2),
    attorney text,
    notes text,
    source_row_id bigint REFERENCES legal_case_import_staging (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS legal_cases_lease_idx ON legal_cases (lease_id);
CREATE INDEX IF NOT EXISTS legal_cases_property_idx ON legal_cases (property_id);
