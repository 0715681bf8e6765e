-- Every DoorLoop request any process made: the shared rate budget counts its recent rows,
-- so two runs together stay under DoorLoop's per-minute and per-hour limits.
CREATE TABLE IF NOT EXISTS doorloop_api_call_log (
    id bigserial PRIMARY KEY,
    budget_key text NOT NULL,
    called_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS doorloop_api_call_log_budget_called_idx
    ON doorloop_api_call_log (budget_key, called_at);
