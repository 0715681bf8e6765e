-- Which SQL files have been applied, with the checksum they had (the migration runner's ledger).
CREATE TABLE IF NOT EXISTS doorloop_schema_migrations (
    object_name text PRIMARY KEY,
    file_path text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
