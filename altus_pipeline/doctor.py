"""``altus doctor``: what a first sync needs, checked in the order it needs it, one line each.

A wrong URL, token or database otherwise shows only as a failed run after Dagster and the
warehouse have started; this names the setting to fix first. It stops at the first hard
failure, and it writes nothing: no migration, no rate-budget entry, no Dagster home (it may
start the embedded PostgreSQL, as every command does). Its one DoorLoop request
(``GET /users/me``) is the call DoorLoop documents for naming the key's user. The token never
appears in what it prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests
from psycopg import sql

from altus_pipeline import settings
from altus_pipeline.doorloop import errors
from altus_pipeline.doorloop.client import Backoff, DoorLoopClient
from altus_pipeline.doorloop.ratelimit import Limits
from altus_pipeline.doorloop.shared_budget import budget_key
from altus_pipeline.instance import dagster_home
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import sql_objects

TOKEN_HELP = "DOORLOOP_API_TOKEN to a key from DoorLoop → Settings → API"
# One retry, no waiting out a 429: a check should answer in seconds, not pace itself.
QUICK = Backoff(max_retries=1, base_seconds=0.5, cap_seconds=2.0, max_rate_limit_waits=0)
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Line:
    """One printed result; ``failed`` stops the doctor there with exit status 1."""

    label: str
    text: str
    failed: bool = False

    def __str__(self) -> str:
        return f"{self.label:<13}{self.text}"


def run(echo: Callable[[str], None]) -> bool:
    """Print every check up to the first hard failure; True when none failed."""
    for line in checks():
        echo(str(line))
        if line.failed:
            return False
    return True


def checks() -> Iterator[Line]:
    """DoorLoop first (the reason to run a doctor before a first sync), then local state."""
    base_url = settings.doorloop_base_url()
    token = settings.doorloop_token()
    yield from _doorloop(base_url, token)
    yield from _warehouse(base_url, token or "")
    yield _dagster_home()


def _doorloop(base_url: str, token: str | None) -> Iterator[Line]:
    """Reachable, then the token: without one, DoorLoop's 401 still proves the URL answers."""
    reachable = Line("DoorLoop", f"reachable at {base_url}")
    try:
        with DoorLoopClient(base_url, token or "", retry=QUICK, timeout=TIMEOUT_SECONDS) as client:
            user = client.me()
    except errors.DoorLoopAuthError:
        yield reachable
        text = (
            f"DOORLOOP_API_TOKEN is not set: set {TOKEN_HELP}"
            if not token
            else f"DoorLoop refused the token (401): set {TOKEN_HELP}"
        )
        yield Line("token", text, failed=True)
        return
    except errors.DoorLoopPermissionError:
        yield reachable
        yield Line("token", "accepted, but its role may not read /users (405), so the account is not named")
        return
    except errors.DoorLoopUnavailableError as exc:
        if exc.status == 429:
            yield reachable
            yield Line("token", "not confirmed: DoorLoop is rate limiting it (429); try again in a minute", failed=True)
        elif exc.status is None:
            yield Line(
                "DoorLoop", f"no answer from {base_url} (refused or timed out): check DOORLOOP_BASE_URL", failed=True
            )
        else:
            yield Line("DoorLoop", f"{base_url} is not answering usably ({exc}): try again later", failed=True)
        return
    except errors.DoorLoopError as exc:
        yield Line(
            "DoorLoop", f"{base_url} does not answer like DoorLoop ({exc}): check DOORLOOP_BASE_URL", failed=True
        )
        return
    except requests.RequestException as exc:
        yield Line("DoorLoop", f"cannot reach {base_url} ({type(exc).__name__}): check DOORLOOP_BASE_URL", failed=True)
        return
    yield reachable
    yield Line("token", f"accepted: the key of {_who(user)}")


def _who(user: dict[str, Any]) -> str:
    """A user as ``Name <email> (role)``, from whichever of DoorLoop's name fields it has."""
    name = user.get("name") or " ".join(str(user[k]) for k in ("firstName", "lastName") if user.get(k)) or "a user"
    email = user.get("loginEmail")
    role = user.get("role")
    return f"{name}" + (f" <{email}>" if email else "") + (f" ({role})" if role else "")


def _warehouse(base_url: str, token: str) -> Iterator[Line]:
    """Reachable and migrated, then the shared rate budget its call log holds."""
    try:
        warehouse = Warehouse.from_env()
        limits = Limits(
            settings.rate_limit("minute", 50), settings.rate_limit("hour", 500), settings.rate_window_seconds()
        )
    except Exception as exc:  # a bad setting, or the embedded server failing to start
        yield Line("warehouse", f"not usable: {exc}", failed=True)
        return
    where = f"{warehouse.masked_url()} schema {warehouse.schema}"
    try:
        with psycopg.connect(warehouse.url, autocommit=True, connect_timeout=int(TIMEOUT_SECONDS)) as conn:
            tables = _tables(conn, warehouse.schema)
            pending = _pending(conn, warehouse.schema) if "doorloop_schema_migrations" in tables else None
            used = (
                _calls(conn, warehouse.schema, budget_key(base_url, token), limits)
                if "doorloop_api_call_log" in tables
                else [0] * len(limits.windows())
            )
    except psycopg.Error as exc:
        yield Line("warehouse", f"{where} not reachable: {_scrub(str(exc), warehouse.url)}", failed=True)
        return
    if pending is None:
        state = "not migrated yet (the first altus command does it; altus db migrate does it now)"
    elif pending:
        state = f"{len(pending)} object(s) to apply (the next altus command does it; altus db migrate does it now)"
    else:
        state = "up to date"
    yield Line("warehouse", f"{where}: reachable, {state}")
    yield Line("rate budget", _budget_text(limits, used))


def _tables(conn: psycopg.Connection, schema: str) -> set[str]:
    """Which of the tables the doctor reads exist yet (a migration creates them)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname IN ('doorloop_schema_migrations', 'doorloop_api_call_log')",
        (schema,),
    ).fetchall()
    return {name for (name,) in rows}


def _pending(conn: psycopg.Connection, schema: str) -> list[str]:
    """Objects under ``sql/`` that are new or changed since the last migration."""
    ledger = sql.Identifier(schema, "doorloop_schema_migrations")
    done = dict(conn.execute(sql.SQL("SELECT object_name, checksum FROM {}").format(ledger)).fetchall())
    return [o.name for o in sql_objects() if done.get(o.name) != o.checksum]


def _calls(conn: psycopg.Connection, schema: str, key: str, limits: Limits) -> list[int]:
    """Requests this token made in each of ``limits.windows()``, as the shared budget counts them."""
    query = sql.SQL(
        "SELECT count(*) FROM {} WHERE budget_key = %s AND called_at > clock_timestamp() - make_interval(secs => %s)"
    ).format(sql.Identifier(schema, "doorloop_api_call_log"))
    return [conn.execute(query, (key, seconds)).fetchone()[0] for seconds, _ in limits.windows()]


def _budget_text(limits: Limits, used: list[int]) -> str:
    """What a sync may still spend now: each window's limit less what the call log counts."""
    if not limits.windows():
        return "off (DOORLOOP_RATE_LIMIT_PER_* = off: for the sandbox only)"
    names = {limits.minute_seconds: "this minute", limits.minute_seconds * 60: "this hour"}
    return ", ".join(
        f"{max(0, allowed - n)} of {allowed} requests left {names[seconds]}"
        for (seconds, allowed), n in zip(limits.windows(), used, strict=True)
    )


def _scrub(text: str, url: str) -> str:
    """Drop the database password from a driver message, should one ever echo it."""
    password = urlsplit(url).password
    lines = (text.replace(password, "***") if password else text).strip().splitlines()
    return lines[0] if lines else "no reason given"


def _dagster_home() -> Line:
    """Where ``altus`` keeps its Dagster instance (created by the first command that runs)."""
    home = dagster_home()
    if home.exists() and not home.is_dir():
        return Line("Dagster home", f"{home} is not a directory: point DAGSTER_HOME at a folder", failed=True)
    if home.exists() and not os.access(home, os.W_OK):
        return Line("Dagster home", f"{home} is not writable", failed=True)
    made = "" if (home / "dagster.yaml").exists() else " (the first altus command creates it)"
    return Line("Dagster home", f"{home}{made}")
