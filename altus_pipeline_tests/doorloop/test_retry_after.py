"""A 429's ``Retry-After`` is capped and a listing's waiting is budgeted.

A server asking for ``Retry-After: 1e9`` used to hold the run (and the ``doorloop_api``
pool slot) for ever. A tiny HTTP server here answers 429 with whatever header a test
wants; sleeping is recorded, never done.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from altus_pipeline.doorloop import errors
from altus_pipeline.doorloop.client import DoorLoopClient
from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.registry import ENTITIES


class RateLimited:
    """An HTTP server that refuses the first ``refusals`` requests with 429 and ``retry_after``."""

    def __init__(self) -> None:
        self.retry_after = "1"
        self.refusals = 10**6
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests += 1
                refused = owner.requests <= owner.refusals
                body = json.dumps(
                    {"status": 429, "code": "RATE_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}
                    if refused
                    else {"total": 1, "data": [{"id": "a1"}]}
                ).encode()
                self.send_response(429 if refused else 200)
                if refused:
                    self.send_header("Retry-After", owner.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/api"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server(monkeypatch) -> Iterator[RateLimited]:
    monkeypatch.delenv("DOORLOOP_RETRY_AFTER_CAP_SECONDS", raising=False)
    monkeypatch.delenv("DOORLOOP_WAIT_BUDGET_SECONDS", raising=False)
    running = RateLimited()
    yield running
    running.stop()


def _client(server: RateLimited, slept: list[float]) -> DoorLoopClient:
    return DoorLoopClient(
        server.base_url, "t", budget=LocalRateBudget(Limits(None, None)), timeout=5.0, sleep=slept.append
    )


def test_a_retry_after_beyond_the_cap_fails_the_page_as_transient_at_once(server):
    server.retry_after = "1e9"
    slept: list[float] = []
    started = time.monotonic()
    with _client(server, slept) as client, pytest.raises(errors.DoorLoopUnavailableError) as info:
        list(client.iter_records(ENTITIES["accounts"]))
    assert slept == [] and server.requests == 1 and time.monotonic() - started < 2
    message = str(info.value)
    assert info.value.transient and info.value.status == 429
    assert "GET /accounts page 1" in message and "'1e9'" in message and "300s cap" in message
    assert "DOORLOOP_RETRY_AFTER_CAP_SECONDS" in message


def test_the_cap_is_configurable_up_to_a_hard_maximum(server, monkeypatch):
    monkeypatch.setenv("DOORLOOP_RETRY_AFTER_CAP_SECONDS", "2")
    server.retry_after, server.refusals = "2", 1
    slept: list[float] = []
    with _client(server, slept) as client:
        assert [r["id"] for r in client.iter_records(ENTITIES["accounts"])] == ["a1"]
    assert slept == [2.0], "a Retry-After within the cap is waited out"
    server.retry_after, server.refusals, server.requests = "3", 1, 0
    with _client(server, slept) as client, pytest.raises(errors.DoorLoopUnavailableError, match="'3' .* 2s cap"):
        list(client.iter_records(ENTITIES["accounts"]))
    monkeypatch.setenv("DOORLOOP_RETRY_AFTER_CAP_SECONDS", "86400")
    with pytest.raises(ValueError, match="DOORLOOP_RETRY_AFTER_CAP_SECONDS='86400': must be at most 3600"):
        _client(server, slept)


def test_a_listing_sleeps_no_longer_than_its_wait_budget(server, monkeypatch):
    monkeypatch.setenv("DOORLOOP_WAIT_BUDGET_SECONDS", "200")
    server.retry_after = "60"  # within the cap, asked for again and again
    slept: list[float] = []
    with _client(server, slept) as client, pytest.raises(errors.DoorLoopUnavailableError) as info:
        list(client.iter_records(ENTITIES["accounts"]))
    assert slept == [60.0, 60.0, 60.0] and sum(slept) <= 200
    assert info.value.transient and "200s wait budget" in str(info.value) and "180s waited" in str(info.value)
    assert "DOORLOOP_WAIT_BUDGET_SECONDS" in str(info.value) and "GET /accounts page 1" in str(info.value)
