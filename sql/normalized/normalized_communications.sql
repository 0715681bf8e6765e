-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Emails, calls and texts; participants in normalized_communication_participants.
-- Source: doorloop_raw_communications.
-- requires: normalized_users
CREATE TABLE IF NOT EXISTS normalized_communications (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    subject text,  -- subject
    type text CHECK (type IN ('EMAIL', 'PHONE', 'TEXT')),  -- type
    status text CHECK (status IN ('DRAFT', 'FAILED', 'BOUNCED', 'COMPLAINT', 'SENT', 'DELIVERED', 'OPENED', 'CLICKED')),  -- status
    "from" jsonb,  -- from
    "to" jsonb,  -- to
    cc jsonb,  -- cc
    bcc jsonb,  -- bcc
    sent_at timestamptz NOT NULL,  -- sentAt
    thread_id text,  -- threadId
    external_id text,  -- externalId
    body_preview text,  -- bodyPreview
    opened_at jsonb,  -- openedAt
    clicked_at jsonb,  -- clickedAt
    bounced_at jsonb,  -- bouncedAt
    announcement jsonb,  -- announcement
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_communications_created_by_id_idx ON normalized_communications (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_communications_updated_by_id_idx ON normalized_communications (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_communications_gone_at_idx ON normalized_communications (id) WHERE gone_at IS NOT NULL;
