"""get_full_rent_roll held row by row to a reference worked out in Python from the normalized rows.

The view is set-based (each unit's covering lease picked once, the tenants and balances of
those leases aggregated once and joined), so this checks it against the definition on a
generated account: for each rentable unit of a live property, the lease covering the latest
KPI date D (docs/kpis.md#building-blocks: start <= D <= the lease's effective end; the
latest-starting one, then the lowest id), its tenants, and its ledger balance on D (charges
less credits and payments, plus reversed payments, each the sum of its lines when it has
lines, else its total).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from altus_pipeline.assets.views import refresh_view
from altus_pipeline.kpi.compute import write_snapshot
from altus_pipeline.normalized.spec import TABLES
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, generate_dataset
from altus_pipeline_tests.support.raw import load_raw

D = DEFAULT_AS_OF - dt.timedelta(days=1)


def _rows(conn, query: str) -> list[tuple]:
    return conn.execute(query).fetchall()


def _reference(conn) -> dict:
    """unit id -> (lease id, status, balance, tenant names), by the definition, in Python."""
    live_tenants = defaultdict(list)
    for lease_id, move_out in _rows(
        conn, "SELECT lease_id, move_out_at FROM normalized_lease_tenants WHERE gone_at IS NULL"
    ):
        live_tenants[lease_id].append(move_out)
    covering = {}
    for lease_id, start, end, status in _rows(
        conn, 'SELECT id, start, "end", status FROM normalized_leases WHERE gone_at IS NULL'
    ):
        outs = live_tenants.get(lease_id)
        if outs and all(o is not None for o in outs):
            cover_end = max(outs)
        elif status == "ACTIVE":
            cover_end = dt.date.max
        else:
            cover_end = end if end is not None else max((o for o in outs or [] if o is not None), default=None)
        if start is not None and cover_end is not None and start <= D <= cover_end:
            covering[lease_id] = start
    picked: dict = {}
    for lease_id, unit_id in _rows(conn, "SELECT lease_id, unit_id FROM normalized_lease_units"):
        if lease_id in covering:
            best = picked.get(unit_id)
            if best is None or (covering[lease_id], -lease_id.int) > (covering[best], -best.int):
                picked[unit_id] = lease_id
    names = defaultdict(set)
    tenants = (
        "SELECT lt.lease_id, coalesce(t.full_name, t.name) FROM normalized_lease_tenants lt "
        "JOIN normalized_tenants t ON t.id = lt.tenant_id WHERE lt.gone_at IS NULL AND t.gone_at IS NULL"
    )
    for lease_id, name in _rows(conn, tenants):
        names[lease_id].add(name)
    balance = defaultdict(Decimal)
    ledgers = (
        ("normalized_lease_charges", "normalized_lease_charge_lines", "lease_charge_id", 1),
        ("normalized_lease_credits", "normalized_lease_credit_lines", "lease_credit_id", -1),
        (
            "normalized_lease_reversed_payments",
            "normalized_lease_reversed_payment_lines",
            "lease_reversed_payment_id",
            1,
        ),
    )
    for table, lines, key, sign in ledgers:
        line_sums: dict = defaultdict(lambda: None)
        for parent, amount in _rows(conn, f"SELECT {key}, amount FROM {lines}"):
            if amount is not None:
                line_sums[parent] = (line_sums[parent] or Decimal(0)) + amount
        for row_id, lease_id, date, total in _rows(
            conn, f"SELECT id, lease_id, date, total_amount FROM {table} WHERE gone_at IS NULL"
        ):
            if date is not None and date <= D:
                amount = line_sums[row_id] if line_sums[row_id] is not None else total
                balance[lease_id] += sign * (amount or 0)
    for lease_id, date, amount in _rows(
        conn, "SELECT lease_id, date, amount_received FROM normalized_lease_payments WHERE gone_at IS NULL"
    ):
        if date is not None and date <= D:
            balance[lease_id] -= amount or 0
    units = _rows(
        conn,
        "SELECT u.id FROM normalized_units u JOIN normalized_properties p ON p.id = u.property_id "
        "AND p.gone_at IS NULL WHERE u.active IS TRUE AND u.gone_at IS NULL",
    )
    result = {}
    for (unit_id,) in units:
        lease_id = picked.get(unit_id)
        result[unit_id] = (
            (None, "VACANT", None, set())
            if lease_id is None
            else (lease_id, "OCCUPIED", balance[lease_id], names[lease_id])
        )
    return result


def test_rent_roll_matches_the_definition_unit_by_unit(warehouse):
    load_raw(warehouse, generate_dataset("small", seed=0))
    with warehouse.connect() as conn:
        for table in TABLES.values():
            Normalizer(conn, table, "test-rent-roll").run()
            conn.commit()
        write_snapshot(conn, D, D)
        # a second lease on an occupied unit, starting a day later: the later-starting one must be picked
        overlapped = conn.execute(
            "INSERT INTO normalized_leases SELECT (jsonb_populate_record(NULL::normalized_leases, to_jsonb(l) "
            "|| jsonb_build_object('id', gen_random_uuid(), 'doorloop_id', l.doorloop_id || '-overlap', "
            "'start', l.start + 1))).* FROM normalized_leases l JOIN normalized_lease_units lu ON lu.lease_id = l.id "
            "WHERE l.status = 'ACTIVE' AND l.start < %s AND l.gone_at IS NULL ORDER BY l.id LIMIT 1 RETURNING id",
            (D,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO normalized_lease_units (lease_id, unit_id) SELECT %s, lu.unit_id "
            "FROM normalized_lease_units lu JOIN normalized_leases l ON l.id = lu.lease_id "
            "AND l.doorloop_id || '-overlap' = (SELECT doorloop_id FROM normalized_leases WHERE id = %s)",
            (overlapped, overlapped),
        )
        conn.commit()
    refresh_view(warehouse, "get_full_rent_roll")
    with warehouse.connect() as conn:
        expected = _reference(conn)
        got = {
            unit_id: (lease_id, status, balance, set(tenants.split(", ")) if tenants else set())
            for unit_id, lease_id, status, balance, tenants, as_of in _rows(
                conn, "SELECT unit_id, lease_id, status, balance, tenants, as_of_date FROM get_full_rent_roll"
            )
            if as_of == D
        }
    assert len(got) == len(expected)
    wrong = {unit: (got.get(unit), want) for unit, want in expected.items() if got.get(unit) != want}
    assert not wrong, list(wrong.items())[:5]
    # the comparison bites: occupied and vacant units, leases owing and in credit, shared leases
    occupied = [v for v in expected.values() if v[1] == "OCCUPIED"]
    assert len(occupied) < len(expected)
    assert any(v[2] > 0 for v in occupied) and any(v[2] < 0 for v in occupied)
    assert any(len(v[3]) > 1 for v in occupied)
    assert overlapped in {v[0] for v in occupied}
