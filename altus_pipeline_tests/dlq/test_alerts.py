"""Alerts: each event posts one Teams and one Slack message, through the real integrations, to a
local HTTP server that records them; a repeated or restarted sensor does not post it again."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

from altus_pipeline.alerts import DeliveryError
from altus_pipeline.definitions import build_definitions
from altus_pipeline.dlq.statements import record_failures
from altus_pipeline.sandbox.faults import FaultSpec
from altus_pipeline.sensors.alerts import (
    ALERT_CHECK_SENSOR,
    ALERT_DLQ_DEAD_SENSOR,
    ALERT_FRESHNESS_SENSOR,
    ALERT_RUN_FAILURE_SENSOR,
    ALERT_SENSORS,
)
from altus_pipeline.sensors.launch import launch
from altus_pipeline_tests.dlq.test_retries import _defs, _failure, _resource, instance  # noqa: F401 - instance is a fixture

SECRET = "s3cr3t-hook-path"
UI = "http://ui.example:3000"


class Webhooks:
    """A local HTTP server standing in for Teams and Slack: records every JSON body by channel."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.status = 200
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hooks.status == 200:
                    hooks.received.append((self.path.split("/")[1], body))
                answer = b"ok" if hooks.status == 200 else b"down"
                self.send_response(hooks.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> dict[str, list[str]]:
        """Message text per channel: the adaptive card's blocks (Teams), ``text`` (Slack)."""
        out: dict[str, list[str]] = {"teams": [], "slack": []}
        for channel, body in self.received:
            if channel == "teams":
                [attachment] = body["attachments"]
                out[channel].append("\n".join(b["text"] for b in attachment["content"]["body"]))
            else:
                out[channel].append(body["text"])
        return out


@pytest.fixture
def hooks(monkeypatch) -> Iterator[Webhooks]:
    server = Webhooks()
    monkeypatch.setenv("ALTUS_TEAMS_WEBHOOK_URL", f"{server.url}/teams/{SECRET}")
    monkeypatch.setenv("ALTUS_SLACK_WEBHOOK_URL", f"{server.url}/slack/{SECRET}")
    monkeypatch.setenv("ALTUS_UI_URL", UI + "/")
    yield server
    server.server.shutdown()


def _one_each(hooks: Webhooks) -> str:
    """The single message every channel got (the same text on both); fails on none or several."""
    texts = hooks.texts()
    assert len(texts["teams"]) == 1 and len(texts["slack"]) == 1, texts
    assert texts["teams"][0] == texts["slack"][0]
    assert SECRET not in texts["teams"][0]
    return texts["teams"][0]


def tick(defs: dg.Definitions, name: str, instance, wh, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"warehouse": _resource(wh)}
    )
    return defs.resolve_sensor_def(name).evaluate_tick(context)


def test_alert_sensors_ship_stopped(warehouse):
    defs = build_definitions(_resource(warehouse))
    for name in ALERT_SENSORS:
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.STOPPED


def test_a_failed_run_posts_once(warehouse, sandbox_factory, small_dataset, instance, hooks):
    server = sandbox_factory(small_dataset, faults=FaultSpec.parse("5xx=1.0"))
    defs = _defs(warehouse, server, max_retries=0)
    summary = launch(
        defs, dg.RunRequest(asset_selection=[dg.AssetKey("doorloop_raw_notes")], partition_key="2026-10-30"), instance
    )
    assert not summary.success
    run = instance.get_run_by_id(summary.run_id)
    event = instance.all_logs(summary.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    for _ in range(2):  # the daemon delivering the same run again (a restart before its cursor was saved)
        context = dg.build_run_status_sensor_context(
            sensor_name=ALERT_RUN_FAILURE_SENSOR,
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=run,
            resources={"warehouse": _resource(warehouse)},
        ).for_run_failure()
        defs.resolve_sensor_def(ALERT_RUN_FAILURE_SENSOR)(context)
    text = _one_each(hooks)
    assert "run failed" in text and "Asset: doorloop_raw_notes" in text and "Partitions: 2026-10-30" in text
    assert "Reason: " in text and f"Run: {UI}/runs/{summary.run_id}" in text


def test_a_dead_record_posts_once_and_a_failed_post_is_retried(warehouse, instance, hooks, monkeypatch):
    monkeypatch.setenv("ALTUS_DLQ_MAX_ATTEMPTS", "1")  # the first failure is final
    defs = build_definitions(_resource(warehouse))
    start = tick(defs, ALERT_DLQ_DEAD_SENSOR, instance, warehouse, None).cursor
    hooks.status = 500
    with warehouse.connect() as conn:
        record_failures(conn, [_failure("transient", "lease_charges", "2026-10-25...2026-10-31")])
        conn.commit()
    with pytest.raises(DeliveryError) as refused:
        tick(defs, ALERT_DLQ_DEAD_SENSOR, instance, warehouse, start)
    assert SECRET not in str(refused.value) and hooks.received == []
    hooks.status = 200
    cursor = tick(defs, ALERT_DLQ_DEAD_SENSOR, instance, warehouse, start).cursor
    text = _one_each(hooks)
    assert "Asset: doorloop_raw_lease_charges" in text and "Partitions: 2026-10-25...2026-10-31" in text
    assert "Reason: lease_charges extract (transient): lease_charges: boom" in text and f"Run: {UI}/runs/run-1" in text
    tick(defs, ALERT_DLQ_DEAD_SENSOR, instance, warehouse, cursor)  # the next tick
    tick(defs, ALERT_DLQ_DEAD_SENSOR, instance, warehouse, start)  # a restart from an older cursor
    assert len(hooks.received) == 2


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2026-10-30", "2026-10-31"]))
def alert_probe() -> None:
    """A stand-in asset whose checks fail on purpose."""


@dg.asset_check(asset=alert_probe, blocking=True)
def probe_rows_unique() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"duplicate_ids": 3})


@dg.asset_check(asset=alert_probe)
def probe_warns_only() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False)


def test_a_failed_blocking_check_posts_once(warehouse, instance, hooks):
    defs = build_definitions(_resource(warehouse))
    start = tick(defs, ALERT_CHECK_SENSOR, instance, warehouse, None).cursor
    result = dg.materialize(
        [alert_probe, probe_rows_unique, probe_warns_only],
        instance=instance,
        partition_key="2026-10-31",
        raise_on_error=False,
    )
    cursor = tick(defs, ALERT_CHECK_SENSOR, instance, warehouse, start).cursor
    text = _one_each(hooks)
    assert "blocking check probe_rows_unique failed" in text and "Asset: alert_probe" in text
    assert "Partitions: 2026-10-31" in text and "Reason: probe_rows_unique: duplicate_ids=3" in text
    assert f"Run: {UI}/runs/{result.run_id}" in text
    assert tick(defs, ALERT_CHECK_SENSOR, instance, warehouse, cursor).cursor == cursor
    tick(defs, ALERT_CHECK_SENSOR, instance, warehouse, start)
    assert len(hooks.received) == 2


def test_an_overdue_asset_posts_once(warehouse, instance, hooks):
    defs = build_definitions(_resource(warehouse))
    start = tick(defs, ALERT_FRESHNESS_SENSOR, instance, warehouse, None).cursor
    now = dt.datetime.now(dt.UTC).timestamp()
    key = dg.AssetKey("kpi_daily_snapshot")
    for previous, new in ((FreshnessState.PASS, FreshnessState.WARN), (FreshnessState.WARN, FreshnessState.FAIL)):
        instance.report_runless_asset_event(
            FreshnessStateChange(key=key, previous_state=previous, new_state=new, state_change_timestamp=now)
        )
    cursor = tick(defs, ALERT_FRESHNESS_SENSOR, instance, warehouse, start).cursor
    text = _one_each(hooks)
    assert "data is overdue" in text and "Asset: kpi_daily_snapshot" in text and "WARN -> FAIL" in text
    last = instance.get_latest_materialization_event(key)  # the storage is shared with other tests
    link = f"Run: {UI}/runs/{last.run_id}" if last else f"Asset page: {UI}/assets/kpi_daily_snapshot"
    assert link in text
    tick(defs, ALERT_FRESHNESS_SENSOR, instance, warehouse, cursor)
    tick(defs, ALERT_FRESHNESS_SENSOR, instance, warehouse, start)
    assert len(hooks.received) == 2


def test_no_webhook_no_message(warehouse, instance, monkeypatch):
    monkeypatch.delenv("ALTUS_TEAMS_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("ALTUS_SLACK_WEBHOOK_URL", raising=False)
    defs = build_definitions(_resource(warehouse))
    start = tick(defs, ALERT_DLQ_DEAD_SENSOR, instance, warehouse, None).cursor
    result = tick(defs, ALERT_DLQ_DEAD_SENSOR, instance, warehouse, start)
    assert "no alert channel configured" in (result.skip_message or "")


def test_an_unreachable_webhook_fails_without_its_url(warehouse, monkeypatch):
    from altus_pipeline.alerts import Alert, SlackChannel, TeamsChannel, deliver

    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{closed.server_address[1]}"
    closed.server_close()  # nothing listens there any more
    alert = Alert(key="k", title="t", asset="a", partitions=None, reason="r", run_id=None)
    with warehouse.connect() as conn, pytest.raises(DeliveryError) as refused:
        deliver(conn, [alert], [TeamsChannel(f"{url}/teams/{SECRET}"), SlackChannel(f"{url}/slack/{SECRET}")])
    assert "teams k: ConnectionError" in str(refused.value) and SECRET not in str(refused.value)
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*) FROM doorloop_alert_log").fetchone()[0] == 0
