-- Alerts already posted: one row per event and channel, so a restarted or re-evaluated
-- alert sensor never posts the same message twice (altus_pipeline/alerts.py).
CREATE TABLE IF NOT EXISTS doorloop_alert_log (
    alert_key text NOT NULL,  -- the event: a run, a DLQ record, a check evaluation or a freshness change
    channel text NOT NULL CHECK (channel IN ('teams', 'slack')),  -- where it was posted: teams or slack
    asset_key text NOT NULL,  -- the asset the alert names
    partition_key text,  -- its partition or range, if any
    run_id text,  -- the run the message links to
    sent_at timestamptz NOT NULL DEFAULT now(),  -- when it was posted
    PRIMARY KEY (alert_key, channel)
);
