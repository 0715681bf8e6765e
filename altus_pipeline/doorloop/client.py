"""The DoorLoop HTTP client: paged listings streamed page by page, paced and retried.

Structure after dlt's REST client: a paginator that knows when to stop (``total``), a
request loop that owns retries, and typed errors. A listing is either read completely
and consistently or it raises; a short read is never reported as success.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests

from altus_pipeline import settings
from altus_pipeline.doorloop import errors
from altus_pipeline.doorloop.envelope import parse_listing
from altus_pipeline.doorloop.ratelimit import LocalRateBudget, RateBudget
from altus_pipeline.doorloop.registry import Entity

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
# Pages of a listing requested ahead of the one its caller handles. Two keep the server busy
# while the caller decodes one page and writes another; more only hold more pages in memory.
READ_AHEAD_PAGES = 2
DEFAULT_RETRY_AFTER = 5.0
T = TypeVar("T")  # what a request's body is parsed into


@dataclass
class ListingStats:
    """What one listing cost: for run metadata and the benchmarks.

    The pages read ahead are requested on threads of their own, which count their requests,
    bytes, retries and waits here at once: ``tally`` adds under a lock, so none is lost.
    """

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    seconds: float = 0.0
    pages: int = 0
    records: int = 0
    total: int | None = None
    waited: float = 0.0  # seconds slept on 429s and retries, held to Backoff's wait budget
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def tally(self, *, requests: int = 0, retries: int = 0, bytes: int = 0, waited: float = 0.0) -> None:
        """Count what one request cost (any thread)."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.bytes += bytes
            self.waited += waited

    def add(self, other: ListingStats) -> None:
        self.tally(requests=other.requests, retries=other.retries, bytes=other.bytes, waited=other.waited)
        self.seconds += other.seconds
        self.pages += other.pages
        self.records += other.records


@dataclass(frozen=True)
class Page:
    """One page of a listing: its records, and each record's JSON text as DoorLoop sent it."""

    number: int
    total: int
    records: list[Any]
    texts: list[str]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter for 5xx, timeouts and broken bodies.

    ``retry_after_cap_seconds`` is the longest ``Retry-After`` slept and
    ``wait_budget_seconds`` all one listing may sleep on 429s and retries; None reads them
    from the environment (``settings.retry_after_cap_seconds``, ``settings.wait_budget_seconds``)
    when the client is made. Without them a ``Retry-After: 1e9`` held the run, and the
    ``doorloop_api`` pool slot, for ever.
    """

    max_retries: int = 6
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_rate_limit_waits: int = 30
    retry_after_cap_seconds: float | None = None
    wait_budget_seconds: float | None = None

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return min(self.cap_seconds, self.base_seconds * 2**attempt) * rng.uniform(0.5, 1.5)


@dataclass
class DoorLoopClient:
    """One keep-alive session against DoorLoop (or the sandbox, which it cannot tell apart)."""

    base_url: str
    token: str
    budget: RateBudget = field(default_factory=LocalRateBudget)
    retry: Backoff = field(default_factory=Backoff)
    timeout: float = 30.0
    page_size: int = PAGE_SIZE
    sleep: Callable[[float], None] = time.sleep
    seed: int | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"bearer {self.token}", "Accept": "application/json"})
        self._rng = random.Random(self.seed)
        self._retry_after_cap = self.retry.retry_after_cap_seconds or settings.retry_after_cap_seconds()
        self._wait_budget = self.retry.wait_budget_seconds or settings.wait_budget_seconds()

    def close(self) -> None:
        self._session.close()
        self.budget.close()

    def __enter__(self) -> DoorLoopClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- listings ---------------------------------------------------------------------

    def iter_pages(
        self,
        entity: Entity,
        params: Mapping[str, str] | None = None,
        stats: ListingStats | None = None,
        *,
        read_ahead: bool = True,
    ) -> Iterator[Page]:
        """Yield the pages of a listing until ``total`` is reached.

        With ``read_ahead`` the next ``READ_AHEAD_PAGES`` pages are requested (each on a
        thread of its own) while the caller handles this one, and only those that ``total``
        says exist: the server's time and the caller's overlap, and no page is requested
        that a complete read would not request. A caller that may stop early (an
        incremental scan) passes False, so that no page is requested in vain.

        Raises ``DoorLoopListingError`` when a later page reports another ``total`` or the
        pages end before ``total`` records arrived: the data moved while we read it.
        """
        stats = stats if stats is not None else ListingStats()
        query = {**entity.list_params, **(params or {}), "page_size": str(self.page_size)}
        started = time.monotonic()
        collected = 0
        number = 1
        ahead: deque[_ReadAhead] = deque()  # pages number + 1, number + 2, ... in flight

        def fetch(number: int, cancel: threading.Event | None = None) -> Page:
            body, texts = self._get(
                entity.path, {**query, "page_number": str(number)}, number, stats, parse_listing, cancel
            )
            return self._parse_page(entity.path, number, body, texts)

        try:
            page = fetch(number)
            while True:
                if stats.total is None:
                    stats.total = page.total
                elif page.total != stats.total:
                    raise errors.DoorLoopListingError(
                        f"total changed from {stats.total} to {page.total} between pages", path=entity.path, page=number
                    )
                collected += len(page.records)
                stats.pages += 1
                stats.records = collected
                if collected > page.total:
                    raise errors.DoorLoopListingError(
                        f"read {collected} records but total is {page.total}", path=entity.path, page=number
                    )
                if read_ahead and collected < page.total and len(page.records) == self.page_size:
                    last = min(number + READ_AHEAD_PAGES, -(-page.total // self.page_size))
                    while number + len(ahead) < last:
                        ahead.append(_ReadAhead(fetch, number + len(ahead) + 1))
                yield page
                if collected == page.total:
                    return
                if len(page.records) < self.page_size:
                    raise errors.DoorLoopListingError(
                        f"listing ended after {collected} of {page.total} records", path=entity.path, page=number
                    )
                number += 1
                page = ahead.popleft().result() if ahead else fetch(number)
        finally:
            for unwanted in ahead:  # the caller stopped early or a page failed: those read ahead are not
                unwanted.cancel()
            stats.seconds += time.monotonic() - started

    def iter_records(
        self, entity: Entity, params: Mapping[str, str] | None = None, stats: ListingStats | None = None
    ) -> Iterator[Any]:
        for page in self.iter_pages(entity, params, stats):
            yield from page.records

    def total(self, entity: Entity, stats: ListingStats | None = None) -> int:
        """How many records the whole listing holds: one request for a page of one record."""
        query = {**entity.list_params, "page_size": "1", "page_number": "1"}
        body, texts = self._get(entity.path, query, 1, stats if stats is not None else ListingStats(), parse_listing)
        return self._parse_page(entity.path, 1, body, texts).total

    def get_one(self, entity: Entity, record_id: str) -> Any:
        return self._get(f"{entity.path}/{record_id}", {}, None, ListingStats(), _json)

    def me(self) -> dict[str, Any]:
        """The user who created the API key (``GET /users/me``): proves the token and names the account."""
        path = "/users/me"
        user = self._get(path, {}, None, ListingStats(), _json)
        if not isinstance(user, dict):
            raise errors.DoorLoopResponseError("expected the user record as a JSON object", path=path, status=200)
        return user

    # -- one request, with pacing and retries ------------------------------------------

    def _get(
        self,
        path: str,
        query: Mapping[str, str],
        page: int | None,
        stats: ListingStats,
        parse: Callable[[bytes, str], T],
        cancel: threading.Event | None = None,
    ) -> T:
        """GET ``path`` and ``parse`` its body (bytes, and their encoding), retrying transient
        failures (a body ``parse`` refuses is one).

        Once ``cancel`` is set no further attempt is made.
        """
        failures = 0
        rate_waits = 0
        while True:
            if cancel is not None and cancel.is_set():
                raise errors.DoorLoopListingError("the page read ahead is no longer wanted", path=path, page=page)
            stats.tally(requests=1)
            try:
                with self.budget.slot():
                    response = self._session.get(self.base_url + path, params=query, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                reason = f"{type(exc).__name__} after {self.timeout:.0f}s timeout or connection failure"
                failures = self._after_transient(path, page, None, reason, failures, stats)
                continue
            stats.tally(bytes=len(response.content))
            status = response.status_code
            if status == 429:
                rate_waits += 1
                if rate_waits > self.retry.max_rate_limit_waits:
                    raise errors.DoorLoopUnavailableError("still rate limited (429)", path=path, page=page, status=429)
                wait = _retry_after(response)
                if wait > self._retry_after_cap:
                    raise errors.DoorLoopUnavailableError(
                        f"rate limited; Retry-After {response.headers.get('Retry-After')!r} is longer than the "
                        f"{self._retry_after_cap:g}s cap (DOORLOOP_RETRY_AFTER_CAP_SECONDS): try again later",
                        path=path,
                        page=page,
                        status=429,
                    )
                self._pause(path, page, 429, wait, "429 Retry-After", stats)
                continue
            if status >= 500:
                failures = self._after_transient(path, page, status, "server error", failures, stats)
                continue
            if status >= 400:
                raise self._client_error(path, page, response)
            content_type = response.headers.get("Content-Type", "")
            if "json" not in content_type.lower():
                raise errors.DoorLoopResponseError(
                    f"expected JSON, got {content_type or 'no content type'!r}", path=path, page=page, status=status
                )
            try:
                body = response.content
                return parse(body, response.encoding or requests.utils.guess_json_utf(body) or "utf-8")
            except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                failures = self._after_transient(path, page, status, "truncated or invalid JSON body", failures, stats)

    def _after_transient(
        self, path: str, page: int | None, status: int | None, reason: str, failures: int, stats: ListingStats
    ) -> int:
        """Sleep the backoff for one more transient failure, or raise when retries are spent."""
        if failures >= self.retry.max_retries:
            raise errors.DoorLoopUnavailableError(
                f"{reason}; gave up after {failures + 1} attempts", path=path, page=page, status=status
            )
        self._pause(path, page, status, self.retry.backoff(failures, self._rng), reason, stats)
        return failures + 1

    def _pause(
        self, path: str, page: int | None, status: int | None, wait: float, reason: str, stats: ListingStats
    ) -> None:
        """Sleep ``wait`` before trying again, unless it would overspend the listing's wait budget."""
        if stats.waited + wait > self._wait_budget:
            raise errors.DoorLoopUnavailableError(
                f"{reason}; waiting {wait:g}s more would exceed the listing's {self._wait_budget:g}s wait budget "
                f"(DOORLOOP_WAIT_BUDGET_SECONDS), {stats.waited:g}s waited already",
                path=path,
                page=page,
                status=status,
            )
        log.info("GET %s page %s: %s, retrying in %.2fs", path, page, reason, wait)
        stats.tally(retries=1, waited=wait)
        self.sleep(wait)

    def _client_error(self, path: str, page: int | None, response: requests.Response) -> errors.DoorLoopError:
        message = self._scrub(_error_message(response))
        kind = {401: errors.DoorLoopAuthError, 405: errors.DoorLoopPermissionError}.get(
            response.status_code, errors.DoorLoopRequestError
        )
        return kind(message, path=path, page=page, status=response.status_code)

    def _scrub(self, text: str) -> str:
        """Remove the token from any text we pass on (a server could echo it)."""
        return text.replace(self.token, "***") if self.token else text

    @staticmethod
    def _parse_page(path: str, number: int, body: Any, texts: list[str] | None) -> Page:
        if texts is None or not isinstance(body.get("total"), int):
            raise errors.DoorLoopResponseError(
                "expected a {total, data} list envelope", path=path, page=number, status=200
            )
        return Page(number=number, total=body["total"], records=body["data"], texts=texts)


class _ReadAhead:
    """One page fetched on a daemon thread while the listing's caller handles the page before.

    A daemon thread rather than an executor: a read ahead that is no longer wanted is left to
    end its request (``cancel`` stops any retry), and never holds up the caller or the exit.
    """

    def __init__(self, fetch: Callable[[int, threading.Event], Page], number: int) -> None:
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._page: Page | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(fetch, number), name=f"doorloop-page-{number}", daemon=True).start()

    def _run(self, fetch: Callable[[int, threading.Event], Page], number: int) -> None:
        try:
            self._page = fetch(number, self._cancel)
        except BaseException as exc:  # handed to the caller by ``result``
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> Page:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._page is not None
        return self._page

    def cancel(self) -> None:
        self._cancel.set()


def sort_params(field: str, *, descending: bool = False) -> dict[str, str]:
    """Listing parameters that ask DoorLoop to order a list by ``field`` (any record field)."""
    return {"sort_by": field, "sort_descending": "true" if descending else "false"}


def _json(body: bytes, encoding: str) -> Any:
    """A body that is one JSON value (not a listing), as ``json.loads`` reads it."""
    return json.loads(body.decode(encoding))


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER)))
    except ValueError:
        return DEFAULT_RETRY_AFTER


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or "error"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("code") or response.reason)
    return response.reason or "error"
