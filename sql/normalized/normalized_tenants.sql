-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Tenants and prospects; taxpayer, screening and payment-processor ids are not copied.
-- Source: doorloop_raw_tenants.
-- requires: normalized_users
CREATE TABLE IF NOT EXISTS normalized_tenants (
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
    type text CHECK (type IN ('LEASE_TENANT', 'PROSPECT_TENANT')),  -- type
    portal_allow_access boolean,  -- portalInfo.allowAccess
    portal_login_email text,  -- portalInfo.loginEmail
    portal_status text CHECK (portal_status IN ('ACTIVE', 'INACTIVE', 'INVITED')),  -- portalInfo.status
    prospect_status text CHECK (prospect_status IN ('NEW', 'CONTACT_ATTEMPTED', 'CONTACT_MADE', 'SHOWING_SCHEDULED', 'SHOWING_COMPLETED', 'APPLICATION_SENT', 'APPLICATION_SUBMITTED', 'LEASE_OFFER_MADE', 'LEASE_OFFER_ACCEPTED', 'LEASE_SENT_FOR_SIGNATURE', 'CLOSED_MOVED_IN', 'CLOSED_LOST')),  -- prospectInfo.status
    prospect_lead_source text,  -- prospectInfo.leadSource
    prospect_expected_move_in_date date,  -- prospectInfo.expectedMoveInDate
    dependants jsonb,  -- dependants
    emergency_contacts jsonb,  -- emergencyContacts
    pets jsonb,  -- pets
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_tenants_created_by_id_idx ON normalized_tenants (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_tenants_updated_by_id_idx ON normalized_tenants (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_tenants_gone_at_idx ON normalized_tenants (id) WHERE gone_at IS NOT NULL;
