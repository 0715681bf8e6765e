"""The DoorLoop client against the sandbox over real HTTP."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest

from altus_pipeline.doorloop import errors
from altus_pipeline.doorloop.client import READ_AHEAD_PAGES, Backoff, DoorLoopClient, ListingStats
from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.sandbox.faults import FaultSpec
from altus_pipeline.sandbox.server import Sandbox, SandboxConfig
from altus_pipeline_tests.conftest import TOKEN

ACCOUNTS = ENTITIES["accounts"]
FAST_RETRY = Backoff(max_retries=8, base_seconds=0.01, cap_seconds=0.05)


def _accounts(n: int) -> list[dict]:
    return [{"id": f"{i:024x}", "name": f"Account {i}", "type": "ASSET_BANK", "active": True} for i in range(n)]


def _client(server, token: str = TOKEN, **kwargs) -> DoorLoopClient:
    options = {"budget": LocalRateBudget(Limits(None, None)), "retry": FAST_RETRY, "timeout": 5.0, "seed": 1}
    return DoorLoopClient(server.base_url, token, **{**options, **kwargs})


@pytest.mark.parametrize("total", [0, 1, 999, 1000, 1001, 2500])
def test_pagination_reads_every_record_once_with_the_fewest_requests(sandbox_factory, total):
    server = sandbox_factory({"accounts": _accounts(total)})
    stats = ListingStats()
    with _client(server) as client:
        records = list(client.iter_records(ACCOUNTS, stats=stats))
    assert [r["id"] for r in records] == [r["id"] for r in _accounts(total)]
    assert stats.total == total
    assert stats.requests == max(1, math.ceil(total / 1000))
    pages = [e for e in server.requests if e.path == "/api/accounts"]
    assert [int(e.query["page_size"]) for e in pages] == [1000] * len(pages)
    assert sorted(int(e.query["page_number"]) for e in pages) == list(range(1, len(pages) + 1))


def test_list_params_of_the_registry_are_sent(sandbox_factory):
    units = [
        {"id": "a" * 24, "name": "1", "property": "p" * 24, "active": True},
        {"id": "b" * 24, "name": "2", "property": "p" * 24, "active": False},
    ]
    server = sandbox_factory({"units": units})
    with _client(server) as client:
        ids = {r["id"] for r in client.iter_records(ENTITIES["units"])}
    assert ids == {"a" * 24, "b" * 24}, "inactive units need filter_active=all"


def test_date_filters_from_the_registry_select_the_range(sandbox_factory):
    payments = [
        {"id": f"{i:024x}", "lease": "l" * 24, "date": f"2025-01-{i:02d}", "amountReceived": 10} for i in range(1, 31)
    ]
    server = sandbox_factory({"lease_payments": payments})
    entity = ENTITIES["lease_payments"]
    with _client(server) as client:
        dates = sorted(r["date"] for r in client.iter_records(entity, entity.date_params("2025-01-05", "2025-01-09")))
    assert dates == [f"2025-01-{d:02d}" for d in range(5, 10)]


def test_wrong_token_raises_auth_error_without_the_token(sandbox_factory, caplog):
    server = sandbox_factory({"accounts": _accounts(3)})
    secret = "wrong-secret-token-93ab"
    caplog.set_level(logging.DEBUG)
    with _client(server, token=secret) as client, pytest.raises(errors.DoorLoopAuthError) as info:
        list(client.iter_records(ACCOUNTS))
    assert info.value.status == 401 and "/accounts" in str(info.value) and "page 1" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value.args)
    assert secret not in caplog.text


def test_denied_endpoint_raises_permission_error(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(3)}, denied_paths=frozenset({"/accounts"}))
    with _client(server) as client, pytest.raises(errors.DoorLoopPermissionError) as info:
        list(client.iter_records(ACCOUNTS))
    assert info.value.status == 405 and not info.value.transient


def test_unknown_id_raises_request_error(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(3)})
    with _client(server) as client:
        assert client.get_one(ACCOUNTS, f"{1:024x}")["name"] == "Account 1"
        with pytest.raises(errors.DoorLoopRequestError) as info:
            client.get_one(ACCOUNTS, "f" * 24)
    assert info.value.status == 404


def test_rate_limit_429_waits_out_retry_after():
    now = [0.0]  # one clock for the sandbox's limits and the client's sleeps: waiting moves it, instantly
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    config = SandboxConfig(token=TOKEN, rate_limit_per_minute=2, rate_limit_per_hour=None, rate_window_seconds=2.0)
    stats = ListingStats()
    with (
        Sandbox({"accounts": _accounts(5000)}, config, clock=lambda: now[0]) as server,
        _client(server, sleep=sleep) as client,
    ):
        records = list(client.iter_records(ACCOUNTS, stats=stats))
    assert len(records) == 5000
    refused = [e for e in server.requests if e.status == 429]
    assert refused, "the tiny limit must have refused some requests"
    assert stats.retries == len(refused)
    assert all(s >= 1 for s in slept), "each 429 waits what Retry-After says"


def test_local_budget_paces_under_the_limit(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(4000)})
    clock = {"now": 0.0}
    sent_at: list[float] = []

    def sleep(seconds: float) -> None:
        clock["now"] += seconds

    budget = LocalRateBudget(Limits(per_minute=2, per_hour=3), clock=lambda: clock["now"], sleep=sleep)
    original = budget.slot

    @contextmanager
    def slot() -> Iterator[float]:
        with original() as waited:
            sent_at.append(clock["now"])
            yield waited

    budget.slot = slot  # type: ignore[method-assign]
    with _client(server, budget=budget) as client:
        assert len(list(client.iter_records(ACCOUNTS))) == 4000
    assert sent_at[:3] == [0.0, 0.0, 60.0], "the third request waits for the minute window"
    assert sent_at[3] == 3600.0, "the fourth waits for the hour window"


@pytest.mark.parametrize("fault", ["5xx=0.5", "429=0.3", "truncate=0.5", "slow=0.3,slow_seconds=0.3"])
def test_transient_faults_are_absorbed_and_the_listing_is_exact(sandbox_factory, fault):
    dataset = _accounts(3500)
    server = sandbox_factory({"accounts": dataset}, faults=FaultSpec.parse(fault), seed=7)
    stats = ListingStats()
    with _client(server, sleep=lambda s: None, timeout=0.2 if "slow" in fault else 5.0) as client:
        records = list(client.iter_records(ACCOUNTS, stats=stats))
    assert [r["id"] for r in records] == [r["id"] for r in dataset]
    assert stats.retries > 0, f"{fault} should have forced at least one retry"


def test_persistent_server_errors_raise_unavailable_after_retries(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(10)}, faults=FaultSpec.parse("5xx=1.0"))
    with _client(server, sleep=lambda s: None) as client, pytest.raises(errors.DoorLoopUnavailableError) as info:
        list(client.iter_records(ACCOUNTS))
    assert info.value.transient
    assert len(server.requests) == FAST_RETRY.max_retries + 1


def test_html_body_is_refused(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(10)}, faults=FaultSpec.parse("html=1.0"))
    with _client(server) as client, pytest.raises(errors.DoorLoopResponseError) as info:
        list(client.iter_records(ACCOUNTS))
    assert "text/html" in str(info.value)


def test_drift_between_pages_raises_listing_error(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(2500)}, faults=FaultSpec.parse("drift=1.0:1"))
    with _client(server) as client, pytest.raises(errors.DoorLoopListingError):
        list(client.iter_records(ACCOUNTS))
    with _client(server) as client:
        assert {r["id"] for r in client.iter_records(ACCOUNTS)} == {r["id"] for r in server.records("accounts")}


def test_token_never_logged_across_faults(sandbox_factory, caplog):
    caplog.set_level(logging.DEBUG)
    server = sandbox_factory(
        {"accounts": _accounts(2500)}, faults=FaultSpec.parse("5xx=0.3,429=0.2,truncate=0.2"), seed=3
    )
    with _client(server, sleep=lambda s: None) as client:
        assert len(list(client.iter_records(ACCOUNTS))) == 2500
    assert caplog.records, "retries should have been logged"
    assert TOKEN not in caplog.text


def test_export_then_serve_then_client_read_returns_the_generated_records(tmp_path, small_dataset_pristine):
    from altus_pipeline.sandbox.generator import export

    export(tmp_path, "small", seed=0)
    config = SandboxConfig(token=TOKEN, rate_limit_per_minute=None, rate_limit_per_hour=None)
    with Sandbox.from_directory(tmp_path, config) as server, _client(server) as client:
        for entity in ENTITIES.values():
            assert list(client.iter_records(entity)) == small_dataset_pristine[entity.name], entity.name


def _pages_requested(server) -> list[int]:
    return [int(e.query["page_number"]) for e in server.requests if e.path == "/api/accounts"]


def test_the_next_pages_are_requested_while_the_caller_handles_this_one(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(4000)})
    stats = ListingStats()
    with _client(server) as client:
        pages = client.iter_pages(ACCOUNTS, stats=stats)
        first = next(pages)
        deadline = time.monotonic() + 5
        while sorted(_pages_requested(server)) != [1, 2, 3] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(_pages_requested(server)) == [1, 2, 3], "pages 2 and 3 are asked for while page 1 is handled"
        time.sleep(0.2)
        assert len(_pages_requested(server)) == 3, f"no more than {READ_AHEAD_PAGES} pages ahead"
        rest = list(pages)
    assert [p.number for p in (first, *rest)] == [1, 2, 3, 4], "pages reach the caller in order"
    assert [len(p.records) for p in (first, *rest)] == [1000] * 4
    assert [p.texts == [json.dumps(r, separators=(",", ":")) for r in p.records] for p in (first, *rest)] == [True] * 4
    assert sorted(_pages_requested(server)) == [1, 2, 3, 4], "nothing is asked for beyond the last page"
    assert stats.requests == 4


def test_pages_read_ahead_count_every_request_and_retry(sandbox_factory):
    """Requests of the pages in flight at once are all counted (a lost update would undercount)."""
    server = sandbox_factory({"accounts": _accounts(30500)}, faults=FaultSpec.parse("5xx=0.3"), seed=5)
    stats = ListingStats()
    with _client(server, sleep=lambda s: None) as client:
        assert len(list(client.iter_records(ACCOUNTS, stats=stats))) == 30500
    answered = [e for e in server.requests if e.path == "/api/accounts"]
    assert stats.requests == len(answered)
    assert stats.retries == sum(e.status >= 500 for e in answered) > 0


def test_a_caller_that_stops_leaves_no_page_asking_again(sandbox_factory):
    """Every page in flight when the caller stops makes no further attempt once its answer is in.

    Seed 2's first draw spares page 1; pages 2 and 3, requested ahead, then fail nine times
    in ten and would each retry up to eight times more, 50 ms apart, if left to it.
    """
    server = sandbox_factory({"accounts": _accounts(5000)}, faults=FaultSpec.parse("5xx=0.9"), seed=2)
    with _client(server, sleep=time.sleep) as client, closing(client.iter_pages(ACCOUNTS)) as pages:
        assert next(pages).number == 1
    time.sleep(1.0)
    assert sorted(set(_pages_requested(server))) == [1, 2, 3]
    assert len(_pages_requested(server)) <= 1 + 2 * 2, "at most the attempt under way of each page read ahead"


def test_a_caller_that_may_stop_early_is_read_no_page_ahead(sandbox_factory):
    server = sandbox_factory({"accounts": _accounts(2500)})
    with _client(server) as client, closing(client.iter_pages(ACCOUNTS, read_ahead=False)) as pages:
        next(pages)
        time.sleep(0.3)
    assert _pages_requested(server) == [1]
