-- Hand-written: not generated from altus_pipeline/normalized/spec.py.
-- Optional references that point at no live row (kept NULL in their table), including
-- links lost when their target left. `column_name` is the referencing column, or
-- `<junction>.<column>` for a junction or line element of the row. Each table records its
-- own entries, in its own run. A row whose target has arrived is re-normalized on the next
-- run of its table (a reference to the same table is linked in the same run). Entries
-- leave when resolved or when their row leaves the table.
CREATE TABLE IF NOT EXISTS normalized_pending_references (
    table_name text NOT NULL,  -- the normalized table holding the reference
    doorloop_id text NOT NULL,  -- DoorLoop id of the row holding it
    column_name text NOT NULL,  -- the referencing column, or <junction>.<column>
    target_table text NOT NULL,  -- the normalized table it points into
    target_doorloop_id text NOT NULL,  -- the DoorLoop id it names, which has no live row there yet
    first_seen_at timestamptz NOT NULL DEFAULT now(),  -- when the reference was first found waiting
    PRIMARY KEY (table_name, doorloop_id, column_name, target_doorloop_id)
);
CREATE INDEX IF NOT EXISTS normalized_pending_references_target_idx
    ON normalized_pending_references (target_table, target_doorloop_id);
