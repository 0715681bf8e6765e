-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Leases; every unit in lease_units.
-- Source: doorloop_raw_leases.
-- requires: normalized_properties, normalized_users
CREATE TABLE IF NOT EXISTS normalized_leases (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    name text,  -- name
    reference text,  -- reference
    property_id uuid NOT NULL REFERENCES normalized_properties (id),  -- property
    start date NOT NULL,  -- start
    "end" date,  -- end
    term text CHECK (term IN ('Fixed', 'AtWill')),  -- term
    rollover_to_at_will boolean,  -- rolloverToAtWill
    status text CHECK (status IN ('ACTIVE', 'INACTIVE')),  -- status
    eviction_pending boolean,  -- evictionPending
    proof_of_insurance_required boolean,  -- proofOfInsuranceRequired
    notes text,  -- notes
    total_balance_due numeric(14, 2),  -- totalBalanceDue
    total_deposits_held numeric(14, 2),  -- totalDepositsHeld
    total_recurring_rent numeric(14, 2),  -- totalRecurringRent
    total_recurring_payments numeric(14, 2),  -- totalRecurringPayments
    total_recurring_credits numeric(14, 2),  -- totalRecurringCredits
    total_recurring_charges numeric(14, 2),  -- totalRecurringCharges
    outstanding_balance numeric(14, 2),  -- outstandingBalance
    overdue_balance numeric(14, 2),  -- overdueBalance
    upcoming_balance numeric(14, 2),  -- upcomingBalance
    current_balance numeric(14, 2),  -- currentBalance
    recurring_rent_frequency text,  -- recurringRentFrequency
    recurring_rent_status text,  -- recurringRentStatus
    proof_of_insurance_provided boolean,  -- proofOfInsuranceProvided
    proof_of_insurance_provided_at timestamptz,  -- proofOfInsuranceProvidedAt
    proof_of_insurance_effective_date date,  -- proofOfInsuranceEffectiveDate
    proof_of_insurance_expiration_date date,  -- proofOfInsuranceExpirationDate
    proof_of_insurance_status text,  -- proofOfInsuranceStatus
    last_late_fees_processed_date date,  -- lastLateFeesProcessedDate
    renewal_info jsonb,  -- renewalInfo
    settings jsonb,  -- settings
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_leases_property_id_idx ON normalized_leases (property_id);
CREATE INDEX IF NOT EXISTS normalized_leases_created_by_id_idx ON normalized_leases (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_leases_updated_by_id_idx ON normalized_leases (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_leases_gone_at_idx ON normalized_leases (id) WHERE gone_at IS NOT NULL;
