-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Vendors; federal tax info, bank accounts and e-pay details are not copied.
-- Source: doorloop_raw_vendors.
-- requires: normalized_users
CREATE TABLE IF NOT EXISTS normalized_vendors (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    first_name text,  -- firstName
    last_name text,  -- lastName
    middle_name text,  -- middleName
    name text,  -- name
    full_name text,  -- fullName
    company boolean,  -- company
    company_name text,  -- companyName
    job_title text,  -- jobTitle
    gender text CHECK (gender IN ('MALE', 'FEMALE', 'PREFER_NOT_TO_SAY')),  -- gender
    timezone text,  -- timezone
    notes text,  -- notes
    picture_url text,  -- pictureUrl
    emails jsonb,  -- emails
    phones jsonb,  -- phones
    e164_phone_mobile_number text,  -- e164PhoneMobileNumber
    primary_address_street1 text,  -- primaryAddress.street1
    primary_address_street2 text,  -- primaryAddress.street2
    primary_address_city text,  -- primaryAddress.city
    primary_address_state text,  -- primaryAddress.state
    primary_address_zip text,  -- primaryAddress.zip
    primary_address_country text,  -- primaryAddress.country
    primary_address_lat numeric,  -- primaryAddress.lat
    primary_address_lng numeric,  -- primaryAddress.lng
    primary_address_is_valid boolean,  -- primaryAddress.isValidAddress
    active boolean,  -- active
    balance numeric(14, 2),  -- balance
    services jsonb,  -- services
    insurance_provider text,  -- insuranceInfo.provider
    insurance_coverage numeric(14, 2),  -- insuranceInfo.coverage
    insurance_effective_date date,  -- insuranceInfo.effectiveDate
    insurance_expiration_date date,  -- insuranceInfo.expirationDate
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_vendors_created_by_id_idx ON normalized_vendors (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_vendors_updated_by_id_idx ON normalized_vendors (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_vendors_gone_at_idx ON normalized_vendors (id) WHERE gone_at IS NOT NULL;
