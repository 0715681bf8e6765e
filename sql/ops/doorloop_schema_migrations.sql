-- Which SQL files have been applied, with the checksum they had (the migration runner's ledger).
CREATE TABLE IF NOT EXISTS doorloop_schema_migrations (
    object_name text PRIMARY KEY,  -- the warehouse object
    file_path text NOT NULL,  -- its file under sql/
    checksum text NOT NULL,  -- sha256 of the file (and the object's name) when applied
    applied_at timestamptz NOT NULL DEFAULT now()  -- when it was last applied
);
