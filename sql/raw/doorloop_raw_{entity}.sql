-- Raw DoorLoop records of one entity, exactly as the API returned them. Rendered once per
-- entity of the registry ({table} is that entity's raw table). A row changes only when its
-- content or its deletion state changes, so re-syncing unchanged data writes nothing.
CREATE TABLE IF NOT EXISTS {table} (
    id text PRIMARY KEY,  -- DoorLoop id of the record
    payload jsonb NOT NULL,  -- the record exactly as DoorLoop returned it
    content_hash text NOT NULL,  -- md5 of the payload: a row is rewritten only when it changes
    business_date date,  -- the record's date partition (transactions); NULL for master data
    first_seen_at timestamptz NOT NULL DEFAULT now(),  -- when a sync first loaded the record
    last_changed_at timestamptz NOT NULL DEFAULT now(),  -- when its content or deletion state last changed
    deleted_at timestamptz,  -- set when DoorLoop stopped returning the id; NULL while it does
    last_run_id text  -- the run that last changed the row
);
CREATE INDEX IF NOT EXISTS {business_date_index} ON {table} (business_date);
