-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- DoorLoop users (staff); bank accounts are not copied.
-- Source: doorloop_raw_users.
CREATE TABLE IF NOT EXISTS normalized_users (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    first_name text,  -- firstName
    last_name text,  -- lastName
    middle_name text,  -- middleName
    name text,  -- name
    login_email text,  -- loginEmail
    role text,  -- role
    active boolean,  -- active
    status text,  -- status
    owner boolean,  -- owner
    timezone text,  -- timezone
    emails jsonb,  -- emails
    phones jsonb,  -- phones
    e164_phone_mobile_number text,  -- e164PhoneMobileNumber
    last_seen_at timestamptz,  -- lastSeenAt
    invitation_last_sent_at timestamptz,  -- invitationLastSentAt
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id) ON DELETE SET NULL,  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id) ON DELETE SET NULL,  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_users_created_by_id_idx ON normalized_users (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_users_updated_by_id_idx ON normalized_users (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_users_gone_at_idx ON normalized_users (id) WHERE gone_at IS NOT NULL;
