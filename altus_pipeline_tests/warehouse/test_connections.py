"""``Warehouse.connect`` keeps an idle connection for the next block, and only a sound one.

Each block asks the server which backend it talks to (``pg_backend_pid()``): the same pid
means the connection was kept, another pid a new one.
"""

from __future__ import annotations

import multiprocessing
import time

import psycopg
import pytest

from altus_pipeline.warehouse.db import Warehouse, _IdleConnections


def _pid(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def _child_pid(warehouse: Warehouse, answer: multiprocessing.Queue) -> None:
    with warehouse.connect() as conn:
        answer.put(_pid(conn))


def test_the_next_block_gets_the_connection_the_last_one_left_idle(warehouse):
    with warehouse.connect() as conn:
        first = _pid(conn)
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    with warehouse.connect() as conn:
        assert _pid(conn) == first
        # committed at the end of the block, as psycopg.connect's own context manager does
        assert conn.execute("SELECT n FROM kept").fetchall() == [(1,)]
        with warehouse.connect() as inner:  # a block inside another gets a connection of its own
            assert _pid(inner) != first
    with warehouse.connect(autocommit=True) as conn:  # an autocommit block never gets a transactional one
        assert conn.autocommit
        assert _pid(conn) != first


def test_a_kept_connection_is_scoped_to_the_warehouse_again(warehouse):
    with warehouse.connect() as conn:
        conn.execute("SET search_path TO public")
        conn.commit()
    with warehouse.connect() as conn:
        assert conn.execute("SELECT current_schema()").fetchone()[0] == warehouse.schema


def test_a_block_that_raised_rolls_back_and_its_connection_is_not_kept(warehouse):
    with warehouse.connect() as conn:
        conn.execute("CREATE TABLE kept (n int)")
    with pytest.raises(ZeroDivisionError):
        with warehouse.connect() as conn:
            failed = _pid(conn)
            conn.execute("INSERT INTO kept VALUES (1)")
            raise ZeroDivisionError
    with warehouse.connect() as conn:
        assert _pid(conn) != failed
        assert conn.execute("SELECT count(*) FROM kept").fetchone()[0] == 0


def test_a_connection_the_server_closed_while_kept_is_replaced(warehouse):
    with warehouse.connect() as conn:
        gone = _pid(conn)
    with psycopg.connect(warehouse.url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (gone,)).fetchone()[0]
    with warehouse.connect() as conn:
        assert _pid(conn) != gone
        assert conn.execute("SELECT current_schema()").fetchone()[0] == warehouse.schema


def test_a_forked_process_opens_its_own(warehouse):
    with warehouse.connect() as conn:
        parent = _pid(conn)
    answer: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_child_pid, args=(warehouse, answer))
    child.start()
    child_pid = answer.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert child_pid != parent
    with warehouse.connect() as conn:  # and the parent's kept connection is still its own, and sound
        assert _pid(conn) == parent


def test_a_process_keeps_two_connections_at_most_and_none_for_long(warehouse, monkeypatch):
    pids = []
    for suffix in ("a", "b", "c", "d"):  # four schemas: four connections, the two oldest closed
        with Warehouse(warehouse.url, f"{warehouse.schema}_{suffix}").connect() as conn:
            pids.append(_pid(conn))
    assert len(set(pids)) == 4
    with psycopg.connect(warehouse.url, autocommit=True) as admin:
        deadline = time.monotonic() + 10
        while (alive := _alive(admin, pids)) != pids[2:] and time.monotonic() < deadline:
            time.sleep(0.1)  # a closed connection's server process takes a moment to go
        assert alive == pids[2:]
    monkeypatch.setattr(_IdleConnections, "MAX_IDLE_SECONDS", 0.0)
    with Warehouse(warehouse.url, f"{warehouse.schema}_d").connect() as conn:
        assert _pid(conn) != pids[3]  # idle longer than allowed: closed, not handed out


def _alive(admin: psycopg.Connection, pids: list[int]) -> list[int]:
    rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchall()
    return sorted((r[0] for r in rows), key=pids.index)


def test_a_block_under_other_libpq_settings_gets_a_connection_opened_with_them(warehouse, monkeypatch):
    with warehouse.connect() as conn:
        plain = _pid(conn)
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=1234ms")
    with warehouse.connect() as conn:
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "1234ms"
        assert _pid(conn) != plain
    monkeypatch.delenv("PGOPTIONS")
    with warehouse.connect() as conn:
        assert _pid(conn) == plain
