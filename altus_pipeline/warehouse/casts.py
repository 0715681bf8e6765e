"""Guarded casts: SQL that says whether an ISO 8601 text casts to ``date`` / ``timestamptz``.

A bad value must never raise in a set-based statement (it is recorded with its reason
while the rest loads). Each check first matches the text against the one shape it
accepts; then ``pg_input_is_valid`` asks the server's parser, on PostgreSQL 16 and later
(where a timestamp in the exact shape DoorLoop writes is asked first, see ``timestamp_ok``).
PostgreSQL 15 has no such function, so there the *portable* check tests the fields the
parser would refuse: year 0, month and day against the calendar, the time of day (``24:00``
and a leap second ``:60`` are accepted; the total may not pass midnight once the fraction
is rounded to microseconds, half to even as the server does) and the offset (at most
15:59). Same answers (``test_casts.py`` holds both to the server's parser), but about eight
times the cost per value, so it is used only where it must be: SQL built inside
``for_server(conn)`` uses the built-in when ``conn``'s server has it.

Each check is a ``psycopg.sql`` composable around a value expression (itself a composable),
evaluated once per use of the value. They contain no ``%``, so they are safe in statements
with bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import psycopg
from psycopg import sql

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
STAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
ZONE_PATTERN = r"(Z|[+-]\d{2}(:?\d{2})?)$"
CANONICAL_STAMP = "____-__-__T__:__:__.___Z"  # LIKE: YYYY-MM-DDTHH:MM:SS.mmmZ, how DoorLoop writes a timestamp
CANONICAL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'  # to_char of that shape, in UTC
_FRACTION = r"^.{19}(\.\d+)"  # the fraction of a second, after YYYY-MM-DDTHH:MM:SS
_ZONE_HOURS = r"[+-](\d{2}):?\d{0,2}$"
_ZONE_MINUTES = r"[+-]\d{2}:?(\d{2})$"
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


def _calendar_ok(s: sql.Composable) -> sql.Composable:
    """``s``'s leading ``YYYY-MM-DD`` is a day of the calendar (``s`` already matched a pattern)."""
    y, m, d = (
        sql.SQL("substr({}, {}, {})::int").format(s, sql.Literal(start), sql.Literal(length))
        for start, length in ((1, 4), (6, 2), (9, 2))
    )
    leap = sql.SQL("(mod({y}, 4) = 0 AND (mod({y}, 100) <> 0 OR mod({y}, 400) = 0))::int").format(y=y)
    days = sql.SQL("CASE WHEN {m} = 2 THEN 28 + {leap} ELSE 30 + mod({m} + {m} / 8, 2) END").format(m=m, leap=leap)
    return sql.SQL(
        "(CASE WHEN {y} = 0 OR {m} NOT BETWEEN 1 AND 12 THEN false ELSE {d} BETWEEN 1 AND {days} END)"
    ).format(y=y, m=m, d=d, days=days)


def date_ok(s: sql.Composable, native: bool | None = None) -> sql.Composable:
    """SQL: text ``s`` is a ``YYYY-MM-DD`` that casts to ``date``; false otherwise, never an error.

    ``native``: use ``pg_input_is_valid`` (PostgreSQL 16+); by default as ``for_server`` says.
    """
    valid = sql.SQL("pg_input_is_valid({}, 'date')").format(s) if _native(native) else _calendar_ok(s)
    return sql.SQL("(CASE WHEN {s} ~ {pattern} THEN {valid} ELSE false END)").format(
        s=s, pattern=sql.Literal(DATE_PATTERN), valid=valid
    )


def timestamp_ok(s: sql.Composable, native: bool | None = None) -> sql.Composable:
    """SQL: text ``s`` is an ISO 8601 timestamp (``STAMP_PATTERN``) that casts to ``timestamptz``.

    Natively, the shape DoorLoop writes (``CANONICAL_STAMP``) skips the regular expression,
    the dearest part of the check (about 2 µs a value against 0.5 µs for the parser): a value
    of that shape the parser accepts and that its own rendering (``CANONICAL_FORMAT``) gives
    back unchanged has a digit wherever the pattern wants one. Any other value still meets
    the pattern, so the answer is the same for every text.
    """
    if _native(native):
        matched = sql.SQL("{s} ~ {pattern}").format(s=s, pattern=sql.Literal(STAMP_PATTERN))
        return sql.SQL(
            "(CASE WHEN {s} LIKE {shape} THEN "
            "CASE WHEN NOT pg_input_is_valid({s}, 'timestamptz') THEN false "
            "WHEN to_char({s}::timestamptz AT TIME ZONE 'UTC', {format}) = {s} THEN true ELSE {matched} END "
            "WHEN {matched} THEN pg_input_is_valid({s}, 'timestamptz') ELSE false END)"
        ).format(
            s=s,
            shape=sql.Literal(CANONICAL_STAMP),
            format=sql.Literal(CANONICAL_FORMAT),
            matched=matched,
        )

    def q(template: str, **parts: sql.Composable) -> sql.Composable:
        return sql.SQL(template).format(s=s, **parts)

    seconds = q("(CASE WHEN substr({s}, 17, 1) = ':' THEN substr({s}, 18, 2)::int ELSE 0 END)")
    micros = q(
        "coalesce(round(('0' || substring({s} from {fraction}))::float8 * 1000000), 0)", fraction=sql.Literal(_FRACTION)
    )
    hour, minute = q("substr({s}, 12, 2)::int"), q("substr({s}, 15, 2)::int")
    day_micros = q(
        "(({hour} * 60 + {minute}) * 60 + {seconds})::float8 * 1000000 + {micros}",
        hour=hour,
        minute=minute,
        seconds=seconds,
        micros=micros,
    )
    zone_hours = q("substring({s} from {pattern})::int", pattern=sql.Literal(_ZONE_HOURS))
    zone_minutes = q("substring({s} from {pattern})::int", pattern=sql.Literal(_ZONE_MINUTES))
    checks = (
        _calendar_ok(s),
        q("{minute} <= 59", minute=minute),
        q("{seconds} <= 60", seconds=seconds),
        q("{day_micros} <= 86400000000", day_micros=day_micros),
        q("coalesce({zone_hours} <= 15, true)", zone_hours=zone_hours),
        q("coalesce({zone_minutes} <= 59, true)", zone_minutes=zone_minutes),
    )
    return q(
        "(CASE WHEN {s} ~ {pattern} THEN {checks} ELSE false END)",
        pattern=sql.Literal(STAMP_PATTERN),
        checks=sql.SQL(" AND ").join(checks),
    )


def has_zone(s: sql.Composable) -> sql.Composable:
    """SQL: timestamp text ``s``, which already matched ``STAMP_PATTERN``, ends with a zone (``ZONE_PATTERN``).

    Past its 16th character (``YYYY-MM-DDTHH:MM``) such a text holds only seconds, a fraction
    and the zone, so a ``Z``, ``+`` or ``-`` there is the zone: three string tests instead of a
    second regular expression per value.
    """
    return sql.SQL(
        "(right({s}, 1) = 'Z' OR strpos(substr({s}, 17), '+') > 0 OR strpos(substr({s}, 17), '-') > 0)"
    ).format(s=s)
