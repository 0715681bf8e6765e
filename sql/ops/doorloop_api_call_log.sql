-- Every DoorLoop request any process made: the shared rate budget counts its recent rows,
-- so two runs together stay under DoorLoop's per-minute and per-hour limits.
CREATE TABLE IF NOT EXISTS doorloop_api_call_log (
    id bigserial PRIMARY KEY,  -- row number
    budget_key text NOT NULL,  -- the account (a short hash of the base URL and token, never the token)
    called_at timestamptz NOT NULL DEFAULT clock_timestamp()  -- when the request finished; while in flight, the latest it can still reach DoorLoop
);
CREATE INDEX IF NOT EXISTS doorloop_api_call_log_budget_called_idx
    ON doorloop_api_call_log (budget_key, called_at);
