"""Which database the warehouse is, and connections scoped to its schema.

Every connection sets ``search_path`` to the warehouse schema, so SQL files name their
objects without a schema and the schema stays configurable (``ALTUS_SCHEMA``).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from altus_pipeline import settings
from altus_pipeline.warehouse import embedded

EMBEDDED_DATABASE = "altus"


@dataclass(frozen=True)
class Warehouse:
    """A PostgreSQL database URL plus the schema that holds every warehouse object."""

    url: str
    schema: str

    @classmethod
    def from_env(cls) -> Warehouse:
        """``ALTUS_DATABASE_URL`` when set, else the embedded server (started if needed).

        The schema is checked first: a setting refused is refused before a server starts.
        """
        schema = settings.warehouse_schema()
        url = settings.database_url_override()
        if url is None:
            pinned = settings.instance_pinned_home()
            if pinned is not None:
                settings.require_home(pinned, f"the Dagster instance in {os.environ['DAGSTER_HOME']}")
            server = embedded.ensure_server(settings.project_home() / "pgdata")
            url = embedded.create_database(server, EMBEDDED_DATABASE)
        return cls(url=url, schema=schema)

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection whose ``search_path`` is the warehouse schema (``migrate`` creates it).

        As ``psycopg.connect`` used as a context manager: committed at the end of the block,
        rolled back if it raises. A connection the block left idle is then kept for the next
        block of this process instead of closed (``_IDLE``): a run opens one per asset and
        check, and a new one costs the server a process and its catalog caches (5 ms each,
        a sixth of a small run with nothing to do).
        """
        conn = _IDLE.take(self.url, self.schema, autocommit) or _open(self.url, self.schema, autocommit)
        try:
            yield conn
        except BaseException:
            if not conn.closed:
                with suppress(psycopg.Error):  # busy or broken: the block's own error is the one to raise
                    conn.rollback()
                conn.close()
            raise
        if conn.closed:
            return
        try:
            conn.commit()
        except BaseException:
            conn.close()
            raise
        _IDLE.give(self.url, self.schema, autocommit, conn)

    def masked_url(self) -> str:
        return mask_url(self.url)

    def dagster_storage_url(self, schema: str = "dagster") -> str:
        """The same database for Dagster's own storage, in its own schema, via psycopg2.

        SQLAlchemy 2.1 maps bare ``postgresql://`` to psycopg 3, which dagster-postgres
        does not ship, hence the explicit ``+psycopg2`` driver. Dagster writes an event per
        partition of a ranged run, each its own commit; ``synchronous_commit=off`` stops
        each from waiting on a disk flush (a crash can lose the last few events, never
        corrupt them).
        """
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
        query.append(("options", f"-csearch_path={schema} -csynchronous_commit=off"))
        scheme = "postgresql+psycopg2"
        return urlunsplit(parts._replace(scheme=scheme, query=urlencode(query)))


def _open(url: str, schema: str, autocommit: bool) -> psycopg.Connection:
    # Statements are not prepared on the server: a kept connection outlives the objects a
    # prepared statement was planned on (a migration rebuilds them, a test drops its schema).
    conn = psycopg.connect(url, autocommit=autocommit, prepare_threshold=None)
    try:
        _scope(conn, schema)
    except BaseException:
        conn.close()
        raise
    return conn


def _scope(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    if not conn.autocommit:
        conn.commit()


def _key(url: str, schema: str, autocommit: bool) -> tuple:
    """What a connection was opened with: libpq also reads ``PG*`` variables (``PGOPTIONS``) when it connects."""
    return url, schema, autocommit, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PG")))


class _IdleConnections:
    """Connections a ``Warehouse.connect`` block left idle, kept for the next block of this process.

    One is handed out only to a block that would have opened it the same way (``_key``). At
    most ``KEEP`` in all, the oldest closed first, each for at most ``MAX_IDLE_SECONDS``: a
    long-lived process (the code server evaluating sensors, a test session going through many
    schemas) holds no more than that. One is taken only in the process that opened it (a forked
    child opens its own), and only after it answers: its ``search_path`` is set again, so a
    connection the server closed meanwhile is replaced, not handed out. A connection left in a
    transaction, or closed, is never kept.
    """

    KEEP = 2
    MAX_IDLE_SECONDS = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[tuple, psycopg.Connection, float]] = []  # oldest first
        self._pid = os.getpid()
        atexit.register(self.close_all)

    def take(self, url: str, schema: str, autocommit: bool) -> psycopg.Connection | None:
        key = _key(url, schema, autocommit)
        while (conn := self._pop(key)) is not None:
            try:
                _scope(conn, schema)
            except psycopg.Error:
                conn.close()
                continue
            return conn
        return None

    def give(self, url: str, schema: str, autocommit: bool, conn: psycopg.Connection) -> None:
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()
            return
        closing = [conn]
        with self._lock:
            if self._pid == os.getpid():
                closing = self._expire()
                self._idle.append((_key(url, schema, autocommit), conn, time.monotonic()))
                closing += [c for _, c, _ in self._idle[: -self.KEEP]]  # the oldest beyond KEEP
                del self._idle[: -self.KEEP]
        for c in closing:
            c.close()

    def _pop(self, key: tuple) -> psycopg.Connection | None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's connections are not its own
                self._idle, self._pid = [], os.getpid()
                return None
            closing = self._expire()
            found = next((i for i in range(len(self._idle) - 1, -1, -1) if self._idle[i][0] == key), None)
            conn = self._idle.pop(found)[1] if found is not None else None
        for c in closing:
            c.close()
        return conn

    def _expire(self) -> list[psycopg.Connection]:
        """Take out the connections idle too long (under the lock); the caller closes them."""
        now = time.monotonic()
        stale = [c for _, c, since in self._idle if now - since > self.MAX_IDLE_SECONDS]
        self._idle = [entry for entry in self._idle if now - entry[2] <= self.MAX_IDLE_SECONDS]
        return stale

    def close_all(self) -> None:
        """Close every kept connection (at exit, so the server sees a clean goodbye)."""
        with self._lock:
            kept, self._idle = self._idle, []
            mine = self._pid == os.getpid()
        if mine:
            for _, conn, _ in kept:
                conn.close()


_IDLE = _IdleConnections()


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for logs and the UI."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
