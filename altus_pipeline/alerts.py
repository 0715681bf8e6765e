"""Alerts to Microsoft Teams and Slack: one message per event, through Dagster's integrations.

Each channel is on when its webhook URL is in the environment (``ALTUS_TEAMS_WEBHOOK_URL``,
``ALTUS_SLACK_WEBHOOK_URL``) and off without one. The URLs are read when a message is sent,
never stored in a resource's config, so the UI, run metadata and logs never show them; a
failed delivery is reported by channel and exception class only, because ``requests`` puts
the URL (whose path is the secret) in its own messages.

Teams goes through ``dagster_msteams.MSTeamsResource`` (adaptive card, or a hero card for a
legacy ``*.webhook.office.com`` hook, as its run-failure sensor does). ``dagster-slack``'s
``SlackResource`` needs a bot token and a channel; an incoming-webhook URL is posted with the
``slack_sdk.webhook.WebhookClient`` that ``dagster-slack`` ships with.

Exactly once: ``deliver`` claims ``(alert key, channel)`` in ``doorloop_alert_log`` inside
the transaction that posts, and commits only after the post succeeded. A sensor that is
restarted, re-evaluated or rewound to an old cursor finds the claim and sends nothing; a post
that failed leaves no claim, so the next tick tries again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import psycopg
from dagster_msteams import Card, MSTeamsResource
from dagster_msteams.adaptive_card import AdaptiveCard
from slack_sdk.webhook import WebhookClient

TEAMS_ENV = "ALTUS_TEAMS_WEBHOOK_URL"
SLACK_ENV = "ALTUS_SLACK_WEBHOOK_URL"
UI_ENV = "ALTUS_UI_URL"
DEFAULT_UI_URL = "http://localhost:3000"
TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class Alert:
    """One event worth a message; ``key`` identifies it across ticks, sensors and restarts."""

    key: str
    title: str
    asset: str
    partitions: str | None
    reason: str
    run_id: str | None

    def link(self) -> str:
        """The run in the UI, or the asset's page when no run is to blame (freshness)."""
        ui = os.environ.get(UI_ENV, "").strip().rstrip("/") or DEFAULT_UI_URL
        if self.run_id:
            return f"{ui}/runs/{self.run_id}"
        return f"{ui}/assets/{self.asset}"

    def lines(self) -> list[str]:
        return [
            f"Altus: {self.title}",
            f"Asset: {self.asset}",
            f"Partitions: {self.partitions or 'all'}",
            f"Reason: {self.reason[:500]}",
            f"Run: {self.link()}" if self.run_id else f"Asset page: {self.link()}",
        ]


class Channel(Protocol):
    name: str

    def post(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class TeamsChannel:
    url: str
    name: str = "teams"

    def post(self, alert: Alert) -> None:
        client = MSTeamsResource(hook_url=self.url, timeout=TIMEOUT_SECONDS).get_client()
        card = Card() if client.is_legacy_webhook() else AdaptiveCard()
        if isinstance(card, Card):
            card.add_attachment("\n\n".join(alert.lines()))
        else:
            for line in alert.lines():
                card.add_attachment(line)
        client.post_message(card.payload)


@dataclass(frozen=True)
class SlackChannel:
    url: str
    name: str = "slack"

    def post(self, alert: Alert) -> None:
        response = WebhookClient(self.url, timeout=TIMEOUT_SECONDS).send(text="\n".join(alert.lines()))
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")


class DeliveryError(RuntimeError):
    """Some alerts could not be posted; they are tried again on the next tick."""


def channels_from_env() -> list[Channel]:
    """The channels whose webhook URL is set, in a fixed order."""
    channels: list[Channel] = []
    if url := os.environ.get(TEAMS_ENV, "").strip():
        channels.append(TeamsChannel(url))
    if url := os.environ.get(SLACK_ENV, "").strip():
        channels.append(SlackChannel(url))
    return channels


def deliver(conn: psycopg.Connection, alerts: list[Alert], channels: list[Channel]) -> int:
    """Post each alert to each channel once ever; returns the number of messages posted.

    Commits per message. Raises ``DeliveryError`` (no URL in it) after trying them all when a
    post failed, so the sensor's tick fails visibly and its cursor stays put.
    """
    sent, failed = 0, []
    for alert in alerts:
        for channel in channels:
            claimed = conn.execute(
                "INSERT INTO doorloop_alert_log (alert_key, channel, asset_key, partition_key, run_id) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (alert.key, channel.name, alert.asset, alert.partitions, alert.run_id),
            ).fetchone()
            if claimed is None:
                conn.rollback()
                continue
            try:
                channel.post(alert)
            except Exception as exc:  # noqa: BLE001 - any failure: drop the claim, retry next tick
                conn.rollback()
                failed.append(f"{channel.name} {alert.key}: {type(exc).__name__}")
                continue
            conn.commit()
            sent += 1
    if failed:
        raise DeliveryError(f"{len(failed)} alert message(s) not delivered: " + "; ".join(failed[:10]))
    return sent
