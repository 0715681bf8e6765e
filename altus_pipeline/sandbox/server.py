"""The DoorLoop sandbox: a local HTTP server that answers like ``https://app.doorloop.com/api``.

It exists so the client, the Dagster assets and the whole sync can be tested offline and
reproducibly, including the ways the real service fails (rate limits, 5xx, HTML pages,
cut-off bodies, data moving mid-listing). Behaviour follows DoorLoop's as docs/doorloop.md
describes it; endpoints come from the entity registry, never from a list kept here.

Standard library only (``ThreadingHTTPServer``, HTTP/1.1 keep-alive) so it starts in
milliseconds inside a test and needs nothing installed.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from altus_pipeline.doorloop.registry import ENTITIES, Entity, entity, entity_for_path
from altus_pipeline.sandbox.faults import FaultInjector, FaultSpec
from altus_pipeline.sandbox.filters import ReadIndex, Related, apply_filters, parse_bool, read_index, sort_records
from altus_pipeline.sandbox.shapes import AS_GENERATED, check_shape, reshape

T = TypeVar("T")

API_PREFIX = "/api"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

#: What DoorLoop's web app sends instead of JSON when a client hits a wrong URL.
LOGIN_PAGE = (
    b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>DoorLoop | Login</title></head>'
    b'<body><div id="root"><form action="/login" method="post"><h1>Log in to DoorLoop</h1>'
    b'<input name="email" type="email"><input name="password" type="password">'
    b'<button type="submit">Log in</button></form></div></body></html>'
)


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves; frozen so one default instance can be shared safely.

    ``rate_window_seconds`` is the length of the "minute" window: tests shorten it so a
    refused request clears in seconds (the hour window stays 3600 s). ``denied_paths``
    holds registry list paths (``/users``; an ``/api`` prefix is also accepted) whose GETs
    answer 405, as DoorLoop does for endpoints outside the token's role.
    ``reference_shape`` serves references as stored, all in the other shape (bare id ↔
    object with ``id``) or some of them, picked by ``seed`` (see ``shapes.py``).
    ``ignore_sort`` serves lists in stored order whatever ``sort_by`` asks, as an API that
    does not sort would: the pipeline must notice and read the whole listing instead.
    """

    token: str = "sandbox-token"
    rate_limit_per_minute: int | None = 50
    rate_limit_per_hour: int | None = 500
    rate_window_seconds: float = 60.0
    faults: FaultSpec = FaultSpec()
    seed: int = 0
    denied_paths: frozenset[str] = frozenset()
    reference_shape: str = AS_GENERATED
    ignore_sort: bool = False

    def __post_init__(self) -> None:
        check_shape(self.reference_shape)


@dataclass(frozen=True)
class RequestLogEntry:
    """One request as served, so tests can count listings by path, page and filters."""

    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class Reply:
    """A response before it is written: status, body and how long to stall first."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """DoorLoop-style error body ``{status, code, message}`` (docs/doorloop.md#limits-and-failures)."""
    body = _json_bytes({"status": status, "code": code, "message": message})
    return Reply(status, body, headers=headers or {})


def _rate_limited(retry_after: int) -> Reply:
    return _error(429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded", {"Retry-After": str(retry_after)})


_SERVER_ERROR_CODES = {500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"}


class _Window:
    """One sliding window of one token: the times of the requests it admitted."""

    def __init__(self, seconds: float, limit: int) -> None:
        self.seconds = seconds
        self.limit = limit
        self.admitted: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until this window has a free slot (0 when it has one now)."""
        while self.admitted and self.admitted[0] <= now - self.seconds:
            self.admitted.popleft()
        if len(self.admitted) < self.limit:
            return 0.0
        return self.admitted[0] + self.seconds - now


class RateLimiter:
    """DoorLoop's limits (docs/doorloop.md#limits-and-failures): N per sliding minute and M per sliding hour per token.

    Refused requests are not recorded, so a client that honours ``Retry-After`` gets in.
    """

    def __init__(
        self,
        per_minute: int | None,
        per_hour: int | None,
        minute_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        windows = ((minute_seconds, per_minute), (3600.0, per_hour))
        self._limits = [(seconds, n) for seconds, n in windows if n is not None]
        self._windows: dict[str, list[_Window]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def admit(self, token: str) -> int | None:
        """Record the request and return None, or return the ``Retry-After`` seconds."""
        now = self._clock()
        with self._lock:
            windows = self._windows.setdefault(token, [_Window(s, n) for s, n in self._limits])
            wait = max((w.wait(now) for w in windows), default=0.0)
            if wait > 0:
                return max(1, math.ceil(wait))
            for window in windows:
                window.admitted.append(now)
            return None


def _route(path: str) -> tuple[Entity, str | None] | None:
    """The entity and record id (None for the list) a URL path names, or None if no endpoint.

    The list paths are tried first so ``/api/leases/tenants`` is the lease-tenant list,
    not the lease with id ``tenants``.
    """
    if not path.startswith(API_PREFIX + "/"):
        return None
    resource = path[len(API_PREFIX) :].rstrip("/")
    listed = entity_for_path(resource)
    if listed is not None:
        return listed, None
    parent, _, record_id = resource.rpartition("/")
    owner = entity_for_path(parent) if parent else None
    return (owner, unquote(record_id)) if owner is not None and record_id else None


def _bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: bearer <token>`` (scheme in any case), else None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _param(query: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    """A paging or sort parameter, with a 400 message naming it when unreadable."""
    text = query.get(name)
    if not text:
        return default
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{name}={text!r}: {exc}") from None


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected an integer") from None


def _record_id(record: Any) -> Any:
    return record.get("id") if isinstance(record, dict) else None


def _stamp_of(record: Any) -> datetime | None:
    """A record's ``updatedAt`` as an aware datetime (None when missing or unreadable)."""
    value = record.get("updatedAt") if isinstance(record, dict) else None
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _change_stamp(records: Sequence[Any]) -> str:
    """The ``updatedAt`` of a change made now: the UTC clock in DoorLoop's format (ISO, milliseconds).

    Never at or before the newest stamp the entity already holds (generated data may be
    dated after the wall clock), so the change sorts first in a newest-changed listing.
    """
    newest = max(filter(None, map(_stamp_of, records)), default=None)
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if newest is not None and now <= newest:
        now = newest + timedelta(milliseconds=1)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Sandbox:
    """A DoorLoop account in memory, served over HTTP.

    ``dataset`` maps registry entity names to records, served exactly as given (also
    non-dict or id-less records, so the pipeline's quarantine can be tested). The stored
    lists are only ever replaced, never changed in place, so a request can read a list
    without copying it while drift or ``mutate`` swap in a new one.
    """

    def __init__(
        self,
        dataset: Mapping[str, Sequence[Any]],
        config: SandboxConfig = SandboxConfig(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` times the rate limits: tests pass their own to move time without waiting."""
        unknown = set(dataset) - set(ENTITIES)
        if unknown:
            raise ValueError(f"dataset names unknown entities {sorted(unknown)}; known: {', '.join(ENTITIES)}")
        self.config = config
        self._faults = FaultInjector(config.faults, config.seed)
        self._data: dict[str, list[Any]] = {
            name: self._faults.corrupt(list(dataset.get(name, ())), e.date_field) for name, e in ENTITIES.items()
        }
        self._data_lock = threading.Lock()
        # Filtered, sorted listings by (entity, non-paging params, data version): a paged
        # read of N records then filters once, not once per page.
        self._version = 0
        self._listings: dict[tuple[Any, ...], list[Any]] = {}
        # By entity, each of the list it indexes: built with the data, as DoorLoop's database
        # has its indexes before the first request, and again on first use after a change.
        self._indexes = {name: read_index(e, self._data[name]) for name, e in ENTITIES.items()}
        self._limiter = RateLimiter(
            config.rate_limit_per_minute, config.rate_limit_per_hour, config.rate_window_seconds, clock
        )
        self._denied = {p[len(API_PREFIX) :] if p.startswith(API_PREFIX + "/") else p for p in config.denied_paths}
        self.requests: list[RequestLogEntry] = []
        self._log_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @classmethod
    def from_directory(cls, directory: Path, config: SandboxConfig = SandboxConfig()) -> Sandbox:
        """Serve an exported dataset: ``DIR/<entity>.json`` JSON arrays; a missing file is an empty endpoint."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"sandbox dataset directory {directory} does not exist")
        dataset = {}
        for name in ENTITIES:
            file = directory / f"{name}.json"
            if file.exists():
                records = json.loads(file.read_text(encoding="utf-8"))
                if not isinstance(records, list):
                    raise ValueError(f"{file}: expected a JSON array of records")
                dataset[name] = records
        return cls(dataset, config)

    # --- data ------------------------------------------------------------------------------

    def records(self, entity_name: str) -> list[Any]:
        """The current records of an entity (after drift and ``mutate``), to compare a sync against."""
        return list(self._snapshot(entity(entity_name).name))

    def mutate(
        self, entity_name: str, *, upsert: Sequence[dict[str, Any]] = (), delete_ids: Sequence[str] = ()
    ) -> None:
        """Change the account between syncs: replace-or-append records by id, delete ids.

        An upserted record that carries ``updatedAt`` gets it set to the moment of the change
        (``_change_stamp``), as DoorLoop stamps every edit: an incremental sync finds
        changes by that field. Records without it (lease tenants) stay as given, and the
        change follows the registry's ``ParentLink`` as it does in DoorLoop, where a lease's
        tenants are edited through the lease: the leases of the rows changed are stamped, a
        deleted lease takes its rows with it, and an edited tenant's copy in each of its rows
        is the edited tenant.
        """
        name = entity(entity_name).name
        if any(not isinstance(r, dict) or "id" not in r for r in upsert):
            raise ValueError("upserted records must be dicts with an 'id'")
        doomed = set(delete_ids)
        with self._data_lock:
            stamp = _change_stamp(self._data[name])
            previous = self._data[name]
            records = [r for r in previous if _record_id(r) not in doomed]
            positions = {_record_id(r): i for i, r in enumerate(records) if _record_id(r) is not None}
            for given in upsert:
                record = {**given, "updatedAt": stamp} if "updatedAt" in given else dict(given)
                if record["id"] in positions:
                    records[positions[record["id"]]] = record
                else:
                    positions[record["id"]] = len(records)
                    records.append(record)
            self._data[name] = records
            self._follow(name, [records[positions[r["id"]]] for r in upsert], doomed, previous)
            self._version += 1

    def _follow(self, name: str, upserted: list[dict[str, Any]], deleted: set[str], previous: list[Any]) -> None:
        """Carry a change of ``name`` to the records that follow it (``mutate``; the data lock is held)."""
        for child in ENTITIES.values():
            link = child.parent
            if link is None or child.name not in self._data:
                continue
            rows = self._data[child.name]
            if name == child.name:
                touched = {r.get(link.field) for r in upserted}
                touched |= {r.get(link.field) for r in previous if isinstance(r, dict) and _record_id(r) in deleted}
                self._stamp(link.parent, touched)
            elif name == link.parent and deleted:
                self._data[child.name] = [r for r in rows if not (isinstance(r, dict) and r.get(link.field) in deleted)]
            for copied, key in link.embeds:
                if name == copied and upserted:
                    edited = {r["id"]: r for r in upserted}
                    self._data[child.name] = [
                        {**r, key: edited[r[key]["id"]]}
                        if isinstance(r, dict) and isinstance(r.get(key), dict) and r[key].get("id") in edited
                        else r
                        for r in self._data[child.name]
                    ]

    def _stamp(self, name: str, ids: set[Any]) -> None:
        """Stamp the records ``ids`` of ``name`` changed now, as an edit through them would."""
        stamp = _change_stamp(self._data.get(name, []))
        self._data[name] = [
            {**r, "updatedAt": stamp} if isinstance(r, dict) and _record_id(r) in ids and "updatedAt" in r else r
            for r in self._data.get(name, [])
        ]

    def _snapshot(self, name: str) -> list[Any]:
        with self._data_lock:
            return self._data[name]

    def _drift(self, name: str) -> None:
        with self._data_lock:
            self._data[name] = self._faults.drift(self._data[name])
            self._version += 1

    def _listing(self, target: Entity, query: dict[str, str], descending: bool) -> list[Any]:
        """The records a query selects, in order (cached until the data changes)."""
        params = tuple(sorted((k, v) for k, v in query.items() if k not in ("page_number", "page_size")))
        with self._data_lock:
            key = (target.name, params, self._version)
            cached = self._listings.get(key)
        if cached is not None:
            return cached
        records = self._snapshot(target.name)
        matched = apply_filters(
            target.name, records, query, Related(self._snapshot), self._index(target, records, query)
        )
        ordered = list(matched) if self.config.ignore_sort else sort_records(matched, query.get("sort_by"), descending)
        with self._data_lock:
            if key[2] == self._version:
                if len(self._listings) >= 64:
                    self._listings.clear()
                self._listings[key] = ordered
        return ordered

    def _index(self, target: Entity, records: list[Any], query: dict[str, str]) -> ReadIndex | None:
        """The read index of ``records`` when the query filters by what it indexes."""
        with self._data_lock:
            index = self._indexes[target.name]
        if index is None or not index.covers(query):
            return None
        if index.records is not records:
            index = read_index(target, records)
            with self._data_lock:
                self._indexes[target.name] = index
        return index

    # --- request log -----------------------------------------------------------------------

    def reset_requests(self) -> None:
        with self._log_lock:
            self.requests.clear()

    def _log(self, entry: RequestLogEntry) -> None:
        with self._log_lock:
            self.requests.append(entry)

    # --- answering -------------------------------------------------------------------------

    def answer(self, method: str, target: str, authorization: str | None) -> Reply:
        """The reply to one request (``target`` = path and query string); logs it."""
        split = urlsplit(target)
        query = {name: values[-1] for name, values in parse_qs(split.query, keep_blank_values=True).items()}
        reply = self._respond(method, split.path, query, authorization)
        self._log(RequestLogEntry(method, split.path, query, reply.status))
        return reply

    def _respond(self, method: str, path: str, query: dict[str, str], authorization: str | None) -> Reply:
        """Auth, then rate limit, then routing and role, then faults, then the data."""
        token = _bearer_token(authorization)
        if token != self.config.token:
            return _error(401, "UNAUTHORIZED", "Missing or invalid API token")
        retry_after = self._limiter.admit(token)
        if retry_after is not None:
            return _rate_limited(retry_after)
        route = _route(path)
        if route is None:
            return _error(404, "NOT_FOUND", f"No endpoint at {path}")
        target, record_id = route
        if method != "GET" or target.path in self._denied:
            return _error(405, "METHOD_NOT_ALLOWED", f"{method} {path} is not allowed for this API key")
        fault = self._faults.request_fault()
        if fault in ("429", "5xx", "html"):
            return self._failure(fault)
        reply = self._list(target, query) if record_id is None else self._single(target, record_id)
        return self._degrade(reply, fault)

    def _failure(self, fault: str) -> Reply:
        """The reply of a fault that replaces the answer altogether."""
        if fault == "429":
            return _rate_limited(1)
        if fault == "html":
            return Reply(200, LOGIN_PAGE, HTML_TYPE)
        status = self._faults.server_error_status()
        return _error(status, _SERVER_ERROR_CODES[status], "The server could not answer; try again later")

    def _degrade(self, reply: Reply, fault: str | None) -> Reply:
        """Apply a fault that still sends the answer: late, or cut in half."""
        if fault == "slow":
            reply.delay = self.config.faults.slow_seconds
        elif fault == "truncate":
            reply.body = reply.body[: len(reply.body) // 2]
        return reply

    def _list(self, target: Entity, query: dict[str, str]) -> Reply:
        """A ``{total, data}`` page (docs/doorloop.md#pagination); drift may move the data before pages ≥ 2."""
        try:
            page_number = max(1, _param(query, "page_number", _integer, 1))
            page_size = min(MAX_PAGE_SIZE, max(1, _param(query, "page_size", _integer, DEFAULT_PAGE_SIZE)))
            descending = _param(query, "sort_descending", parse_bool, False)
            if page_number >= 2 and self._faults.draw("drift"):
                self._drift(target.name)
            ordered = self._listing(target, query, descending)
        except ValueError as exc:  # FilterError included
            return _error(400, "BAD_REQUEST", str(exc))
        start = (page_number - 1) * page_size
        page = [self._served(target, r) for r in ordered[start : start + page_size]]
        return Reply(200, _json_bytes({"total": len(ordered), "data": page}))

    def _single(self, target: Entity, record_id: str) -> Reply:
        """The bare record (docs/doorloop.md#access), or 404 JSON; ``/users/me`` is the key's user."""
        if target.name == "users" and record_id == "me":
            found = self._token_owner()
            if found is None:
                return _error(404, "NOT_FOUND", "No user owns this API key")
            return Reply(200, _json_bytes(self._served(target, found)))
        found = next((r for r in self._snapshot(target.name) if _record_id(r) == record_id), None)
        if found is None:
            return _error(404, "NOT_FOUND", f"No {target.name} record with id {record_id}")
        return Reply(200, _json_bytes(self._served(target, found)))

    def _served(self, target: Entity, record: Any) -> Any:
        """A stored record as it goes out: its references in the configured shape."""
        return reshape(target.name, record, self.config.reference_shape, self.config.seed)

    def _token_owner(self) -> dict[str, Any] | None:
        """The user who created the sandbox's one API key, for ``GET /users/me``.

        DoorLoop answers with the key's creator; the sandbox has a single key, so it stands
        for the account owner (``owner: true``), else the first active user, else the first
        user, in dataset order, so a replayed ``--data`` folder names the same user every time.
        """
        users = [u for u in self._snapshot("users") if isinstance(u, dict)]
        return min(users, key=lambda u: (u.get("owner") is not True, u.get("active") is not True), default=None)

    # --- serving ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; return the base URL (``http://host:port/api``)."""
        server = self._bind(host, port)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="doorloop-sandbox", daemon=True
        )
        self._thread.start()
        return self.base_url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8080) -> None:
        """Serve in the calling thread until ``stop()`` is called from another thread (or Ctrl-C)."""
        server = self._bind(host, port)
        try:
            server.serve_forever()
        finally:
            server.server_close()
            if self._server is server:
                self._server = None

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections, so nothing answers afterwards."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _bind(self, host: str, port: int) -> _Server:
        if self._server is not None:
            raise RuntimeError(f"sandbox already serving at {self.base_url}")
        self._server = _Server((host, port), self)
        bound_host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}{API_PREFIX}"
        return self._server

    def __enter__(self) -> Sandbox:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP into ``Sandbox.answer`` calls; keep-alive needs exact Content-Length."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK
    # would stall every response by ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._drain_body()
        reply = self.server.sandbox.answer(self.command, self.path, self.headers.get("Authorization"))
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    # The sandbox is read-only: writes get DoorLoop's role refusal (405), after auth.
    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _drain_body(self) -> None:
        """Read any request body so the next request on the connection parses cleanly."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(length)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: a line per request on stderr would drown test output; see ``Sandbox.requests``."""


class _Server(ThreadingHTTPServer):
    """Threading server that tracks connections so ``stop()`` can cut idle keep-alives."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
