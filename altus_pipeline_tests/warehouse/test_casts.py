"""The guarded date/timestamp checks agree with the server's own parser, on PostgreSQL 15 and later."""

from __future__ import annotations

import psycopg
from psycopg import sql

from altus_pipeline.warehouse.casts import (
    DATE_PATTERN,
    NATIVE_FROM,
    STAMP_PATTERN,
    ZONE_PATTERN,
    date_ok,
    for_server,
    has_zone,
    timestamp_ok,
)

DATES = (
    "0000-01-01",
    "0001-01-01",
    "2024-02-29",
    "2023-02-29",
    "1900-02-29",
    "2000-02-29",
    "2024-13-01",
    "2024-00-10",
    "2024-04-31",
    "2024-04-30",
    "2024-12-31",
    "2024-12-32",
    "2024-01-00",
    "9999-12-31",
    "2024-06-31",
    "2024-07-31",
    "2024-09-31",
    "2024-11-31",
    "2024-08-31",
    "2024-10-31",
)
TIMES = (
    "00:00",
    "12:34:56.789",
    "24:00",
    "24:00:00",
    "24:00:00.0000005",
    "24:00:00.0000006",
    "24:00:01",
    "23:60",
    "23:59:60",
    "23:59:60.0000005",
    "23:59:60.00000050001",
    "23:59:60.5",
    "23:59:61",
    "23:59:59.9999995",
    "10:30:60.999",
    "10:30:60.9999999",
    "10:60",
    "25:00",
    "99:99",
)
ZONES = ("", "Z", "+15", "+16", "-15:59", "+15:60", "+1559", "+1600", "+00:99", "-0530", "+05:30", "-99")
OTHERS = (
    "",
    "x",
    "2024-1-01",
    "20240101",
    "2024-01-01T10",
    "2024-01-01T10:00:00.",
    "2024/01/01",
    "Jan 5 2024",
    "2024-01-01T10:00:00+05:30:00",
    " 2024-01-01",
    "2024-01-01 ",
    # the shape DoorLoop writes (CANONICAL_STAMP), which skips the pattern when the parser gives it back
    " 024-01-01T00:00:00.000Z",  # the parser reads year 24: a blank where the pattern wants a digit
    "2024-01-01T 1:00:00.000Z",  # and hour 1
    "2024-01-01T24:00:00.000Z",  # valid, rendered as the next day: the pattern decides
    "2024-01-01T23:59:60.000Z",
    "2024-02-30T00:00:00.000Z",
    "Sept-01-01T00:00:00.000Z",
)

# The server's parser, on any version: the cast itself, an error meaning "not valid".
_CASTABLE = """
CREATE FUNCTION pg_temp.castable(value text, type text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT %L::' || type, value);
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END $$
"""


def test_checks_agree_with_the_servers_parser_and_never_raise(pg_url):
    values = [*DATES, *OTHERS] + [f"{d}{sep}{t}{z}" for d in DATES for sep in "T " for t in TIMES for z in ZONES]
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET TimeZone = 'America/New_York'")  # a zone with DST gaps: they never make a value invalid
        conn.execute(_CASTABLE)
        conn.execute("CREATE TEMP TABLE v (s text)")
        with conn.cursor().copy("COPY v (s) FROM STDIN") as copy:
            for value in values:
                copy.write_row((value,))
        with for_server(conn):
            native = conn.info.server_version >= NATIVE_FROM
            checks = (date_ok(sql.SQL("s")) + timestamp_ok(sql.SQL("s"))).as_string(conn)
            assert ("pg_input_is_valid" in checks) == native
        for variant in (False, True) if native else (False,):
            rows = conn.execute(
                sql.SQL(
                    "SELECT s, {date_ok}, {timestamp_ok}, "
                    "s ~ %(date)s AND pg_temp.castable(s, 'date'), s ~ %(stamp)s AND pg_temp.castable(s, 'timestamptz') "
                    "FROM v"
                ).format(date_ok=date_ok(sql.SQL("s"), variant), timestamp_ok=timestamp_ok(sql.SQL("s"), variant)),
                {"date": DATE_PATTERN, "stamp": STAMP_PATTERN},
            ).fetchall()
            assert len(rows) == len(values) > 9000
            assert sum(r[2] for r in rows) > 1000 and sum(not r[2] for r in rows) > 1000  # both answers occur
            assert [r for r in rows if (r[1], r[2]) != (r[3], r[4])] == [], f"native={variant}"


def test_has_zone_agrees_with_the_zone_pattern_on_every_timestamp_shape(pg_url):
    """The normalizer reads a timestamp without a zone as UTC; its cheap zone test must say what the pattern says."""
    values = [f"{d}{sep}{t}{z}" for d in DATES[:3] for sep in "T " for t in TIMES for z in ZONES]
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT s, {has_zone}, s ~ %(zone)s FROM unnest(%(values)s::text[]) s WHERE s ~ %(stamp)s").format(
                has_zone=has_zone(sql.SQL("s"))
            ),
            {"zone": ZONE_PATTERN, "stamp": STAMP_PATTERN, "values": values},
        ).fetchall()
    assert len(rows) > 500 and {r[2] for r in rows} == {True, False}  # both answers occur
    assert [r for r in rows if r[1] != r[2]] == []
