"""Guarded casts: SQL that says whether an ISO 8601 text casts to ``date`` / ``timestamptz``.

A bad value must never raise in a set-based statement (it is recorded with its reason
while the rest loads). Each check first matches the text against the one shape it
accepts; then ``pg_input_is_valid`` asks the server's parser, on PostgreSQL 16 and later.
PostgreSQL 15 has no such function, so there the *portable* check tests the fields the
parser would refuse: year 0, month and day against the calendar, the time of day (``24:00``
and a leap second ``:60`` are accepted; the total may not pass midnight once the fraction
is rounded to microseconds, half to even as the server does) and the offset (at most
15:59). Same answers (``test_casts.py`` holds both to the server's parser), but about eight
times the cost per value, so it is used only where it must be: SQL built inside
``for_server(conn)`` uses the built-in when ``conn``'s server has it.

The checks are SQL text around a value expression, evaluated once per use of the value;
``composed`` wraps one around a ``psycopg.sql`` composable. They contain no ``%``, so
they are safe in statements with bound parameters.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

import psycopg
from psycopg import sql

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
STAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
ZONE_PATTERN = r"(Z|[+-]\d{2}(:?\d{2})?)$"
_FRACTION = r"^.{19}(\.\d+)"  # the fraction of a second, after YYYY-MM-DDTHH:MM:SS
_ZONE_HOURS = r"[+-](\d{2}):?\d{0,2}$"
_ZONE_MINUTES = r"[+-]\d{2}:?(\d{2})$"
_MARK = "\x00"
NATIVE_FROM = 160000  # server_version_num of the first server with pg_input_is_valid
_NATIVE: ContextVar[bool] = ContextVar("altus_native_input_check", default=False)


@contextmanager
def for_server(conn: psycopg.Connection) -> Iterator[None]:
    """Checks built inside use ``pg_input_is_valid`` when ``conn``'s server has it."""
    token = _NATIVE.set(conn.info.server_version >= NATIVE_FROM)
    try:
        yield
    finally:
        _NATIVE.reset(token)


def _native(native: bool | None) -> bool:
    return _NATIVE.get() if native is None else native


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _calendar_ok(s: str) -> str:
    """``s``'s leading ``YYYY-MM-DD`` is a day of the calendar (``s`` already matched a pattern)."""
    y, m, d = (f"substr({s}, {start}, {length})::int" for start, length in ((1, 4), (6, 2), (9, 2)))
    leap = f"(mod({y}, 4) = 0 AND (mod({y}, 100) <> 0 OR mod({y}, 400) = 0))::int"
    days = f"CASE WHEN {m} = 2 THEN 28 + {leap} ELSE 30 + mod({m} + {m} / 8, 2) END"
    return f"(CASE WHEN {y} = 0 OR {m} NOT BETWEEN 1 AND 12 THEN false ELSE {d} BETWEEN 1 AND {days} END)"


def date_ok(s: str, native: bool | None = None) -> str:
    """SQL: text ``s`` is a ``YYYY-MM-DD`` that casts to ``date``; false otherwise, never an error.

    ``native``: use ``pg_input_is_valid`` (PostgreSQL 16+); by default as ``for_server`` says.
    """
    valid = f"pg_input_is_valid({s}, 'date')" if _native(native) else _calendar_ok(s)
    return f"(CASE WHEN {s} ~ {_lit(DATE_PATTERN)} THEN {valid} ELSE false END)"


def timestamp_ok(s: str, native: bool | None = None) -> str:
    """SQL: text ``s`` is an ISO 8601 timestamp (``STAMP_PATTERN``) that casts to ``timestamptz``."""
    if _native(native):
        return f"(CASE WHEN {s} ~ {_lit(STAMP_PATTERN)} THEN pg_input_is_valid({s}, 'timestamptz') ELSE false END)"
    seconds = f"(CASE WHEN substr({s}, 17, 1) = ':' THEN substr({s}, 18, 2)::int ELSE 0 END)"
    micros = f"coalesce(round(('0' || substring({s} from {_lit(_FRACTION)}))::float8 * 1000000), 0)"
    hour, minute = f"substr({s}, 12, 2)::int", f"substr({s}, 15, 2)::int"
    day_micros = f"(({hour} * 60 + {minute}) * 60 + {seconds})::float8 * 1000000 + {micros}"
    zone_hours = f"substring({s} from {_lit(_ZONE_HOURS)})::int"
    zone_minutes = f"substring({s} from {_lit(_ZONE_MINUTES)})::int"
    checks = (
        _calendar_ok(s),
        f"{minute} <= 59",
        f"{seconds} <= 60",
        f"{day_micros} <= 86400000000",
        f"coalesce({zone_hours} <= 15, true)",
        f"coalesce({zone_minutes} <= 59, true)",
    )
    return f"(CASE WHEN {s} ~ {_lit(STAMP_PATTERN)} THEN {' AND '.join(checks)} ELSE false END)"


def composed(check: Callable[[str], str], value: sql.Composable) -> sql.Composed:
    """``check`` (``date_ok``, ``timestamp_ok``) around a ``psycopg.sql`` value expression."""
    first, *rest = check(_MARK).split(_MARK)
    parts: list[sql.Composable] = [sql.SQL(first)]
    for text in rest:
        parts += [value, sql.SQL(text)]
    return sql.Composed(parts)
