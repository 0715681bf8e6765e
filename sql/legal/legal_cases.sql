-- One row per legal case (the legal team's Case Key), linked to DoorLoop data. The links
-- are the normalized uuids (uuid5 of the DoorLoop id, stable across rebuilds of the
-- normalized layer) with their DoorLoop ids; no foreign key, because the normalized layer
-- is rebuilt from raw while cases are the legal team's own record.
-- requires: legal_case_import_staging
CREATE TABLE IF NOT EXISTS legal_cases (
    id uuid PRIMARY KEY,  -- uuid5 of the case key
    case_key text NOT NULL UNIQUE,  -- the legal team's own stable id of the case (e.g. EV-2025-014)
    docket_number text,  -- the court's case number, once filed
    tenant_id uuid,  -- the tenant (normalized_tenants.id)
    tenant_doorloop_id text,  -- the tenant's DoorLoop id
    lease_id uuid,  -- the lease (normalized_leases.id)
    lease_doorloop_id text,  -- the lease's DoorLoop id
    unit_id uuid,  -- the unit (normalized_units.id); NULL when the lease has several
    property_id uuid,  -- the property (normalized_properties.id)
    current_phase text NOT NULL CHECK (current_phase IN (  -- the case's current phase (docs/legal.md#phases)
        'referral', 'notice_served', 'filed', 'summons_served', 'hearing_scheduled', 'judgment', 'writ_issued',
        'possession', 'collections', 'closed', 'cured', 'settled', 'dismissed', 'voluntary_move_out', 'withdrawn',
        'bankruptcy_stay')),
    phase_date date NOT NULL,  -- the date the case entered its current phase
    paused_from_phase text,  -- the phase a case in bankruptcy_stay paused, to resume at
    is_closed boolean NOT NULL DEFAULT false,  -- the current phase closes the case (closed or an off-ramp)
    notice_type text CHECK (notice_type IN ('PAY_OR_QUIT', 'CURE_OR_QUIT', 'UNCONDITIONAL_QUIT', 'NOTICE_TO_VACATE')),  -- the notice served
    notice_served date,  -- date the notice was served
    filing_date date,  -- date the case was filed in court
    hearing_date date,  -- date of the hearing
    judgment_date date,  -- date of the judgment
    writ_issued date,  -- date the writ was issued
    possession_date date,  -- date possession was recovered
    court text,  -- the court
    county text,  -- the court's county
    amount_owed numeric(14, 2),  -- what the tenant owes, by the legal team's workbook
    judgment_amount numeric(14, 2),  -- the amount the judgment awarded
    attorney text,  -- the attorney on the case
    notes text,  -- the legal team's notes
    source_row_id bigint REFERENCES legal_case_import_staging (id),  -- the staging row that last changed the case
    created_at timestamptz NOT NULL DEFAULT now(),  -- first imported
    updated_at timestamptz NOT NULL DEFAULT now()  -- last changed by an import
);
CREATE INDEX IF NOT EXISTS legal_cases_lease_idx ON legal_cases (lease_id);
CREATE INDEX IF NOT EXISTS legal_cases_property_idx ON legal_cases (property_id);
