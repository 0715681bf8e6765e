-- Alerts already posted: one row per event and channel, so a restarted or re-evaluated
-- alert sensor never posts the same message twice (altus_pipeline/alerts.py).
CREATE TABLE IF NOT EXISTS doorloop_alert_log (
    alert_key text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('teams', 'slack')),
    asset_key text NOT NULL,
    partition_key text,
    run_id text,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_key, channel)
);
