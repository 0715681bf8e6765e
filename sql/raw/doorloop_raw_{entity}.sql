-- Raw DoorLoop records of one entity, exactly as the API returned them. Rendered once per
-- entity of the registry ({table} is that entity's raw table). A row changes only when its
-- content or its deletion state changes, so re-syncing unchanged data writes nothing.
CREATE TABLE IF NOT EXISTS {table} (
    id text PRIMARY KEY,
    payload jsonb NOT NULL,
    content_hash text NOT NULL,
    business_date date,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_changed_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    last_run_id text
);
CREATE INDEX IF NOT EXISTS {business_date_index} ON {table} (business_date);
