"""The rate budgets count a request from when it was sent until its window after it finished.

DoorLoop counts a request when it arrives, somewhere between the slot and the response, so a
slot dated when it was taken frees early by the request's latency: the flake this guards
against was a second ``altus sync`` getting a 429 under load.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from contextlib import ExitStack

from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.shared_budget import PostgresRateBudget, budget_key
from altus_pipeline.warehouse.db import Warehouse

ONE_A_MINUTE = Limits(per_minute=1, per_hour=None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: list = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for hook in self.on_sleep:
            hook()


def test_local_slot_is_dated_when_its_request_finished():
    clock = FakeClock()
    budget = LocalRateBudget(ONE_A_MINUTE, clock=lambda: clock.now, sleep=clock.sleep)
    with budget.slot():
        clock.now += 10  # the request takes ten seconds
    with budget.slot() as waited:
        granted = clock.now
    assert granted == 70 and waited == 60, "the next slot waits a minute from when the first request finished"


def test_local_slot_in_flight_counts_until_it_finishes():
    clock = FakeClock()
    budget = LocalRateBudget(ONE_A_MINUTE, clock=lambda: clock.now, sleep=clock.sleep)
    with ExitStack() as first:
        first.enter_context(budget.slot())
        finished: list[float] = []

        def finish_after_two_minutes() -> None:
            if clock.now >= 120 and not finished:
                finished.append(clock.now)
                first.close()

        clock.on_sleep.append(finish_after_two_minutes)
        with budget.slot():
            granted = clock.now
    assert finished, "the second slot was granted while the first request was still in flight"
    assert granted >= finished[0] + 60


def test_shared_slot_waits_for_a_slow_request_to_finish(warehouse: Warehouse):
    window = 0.3
    limits = Limits(per_minute=1, per_hour=None, minute_seconds=window)
    first, second = (PostgresRateBudget(warehouse, budget_key("http://slow", "token"), limits) for _ in range(2))
    finished_at: list[float] = []
    taken = threading.Event()

    def slow_request() -> None:
        with first.slot():
            taken.set()
            time.sleep(2 * window)
            finished_at.append(time.monotonic())

    worker = threading.Thread(target=slow_request)
    worker.start()
    assert taken.wait(10)
    try:
        with second.slot():
            granted = time.monotonic()
    finally:
        worker.join()
        first.close()
        second.close()
    assert granted < finished_at[0] + 3, "a finished request's slot is dated when it finished, not held as in flight"
    assert granted >= finished_at[0] + window * 0.9, (
        f"second slot {granted - finished_at[0]:+.3f}s after the first request finished; expected ≥ {window}s"
    )


DIE_HOLDING_A_SLOT = """
import os, sys
from altus_pipeline.doorloop.ratelimit import Limits
from altus_pipeline.doorloop.shared_budget import PostgresRateBudget, budget_key
from altus_pipeline.warehouse.db import Warehouse
budget = PostgresRateBudget(Warehouse(url=sys.argv[1], schema=sys.argv[2]), budget_key("http://dead", "token"),
                            Limits(per_minute=1, per_hour=None, minute_seconds=0.2), in_flight_seconds=1.0)
with budget.slot():
    os._exit(0)
"""


def test_shared_slot_of_a_run_that_died_frees_itself(warehouse: Warehouse):
    window = 0.2
    subprocess.run([sys.executable, "-c", DIE_HOLDING_A_SLOT, warehouse.url, warehouse.schema], check=True, timeout=60)
    started = time.monotonic()
    limits = Limits(per_minute=1, per_hour=None, minute_seconds=window)
    survivor = PostgresRateBudget(warehouse, budget_key("http://dead", "token"), limits, in_flight_seconds=1.0)
    try:
        with survivor.slot():
            waited = time.monotonic() - started
    finally:
        survivor.close()
    assert 0.6 <= waited < 1.0 + window + 2, (
        f"waited {waited:.2f}s: the dead run's slot should hold about 1.2 s, then free"
    )
