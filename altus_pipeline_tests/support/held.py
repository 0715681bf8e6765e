"""A deterministic stop point in a sync: the sandbox holds one request unanswered."""

from __future__ import annotations

import threading

from altus_pipeline.sandbox.server import Sandbox


def hold_request(server: Sandbox, after: int = 3) -> tuple[threading.Event, threading.Event]:
    """Hold the request that follows ``after`` answered ones until ``release`` is set.

    Returns ``(held, release)``: ``held`` is set once the request waits, so a test can kill the
    sync or stop the database at exactly that point instead of guessing with a timer.
    """
    held, release, answer = threading.Event(), threading.Event(), server.answer

    def gated(method: str, target: str, authorization: str | None):
        if len(server.requests) >= after and not release.is_set():
            held.set()
            release.wait(120)
        return answer(method, target, authorization)

    server.answer = gated
    return held, release
