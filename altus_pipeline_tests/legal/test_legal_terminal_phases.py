"""Closed legal cases stay closed: every terminal phase refuses every move, in the rules and
in an import.

The terminal phases are ``closed`` (the end of the main line) and every off-ramp
(docs/legal.md#phases); the table below is every (terminal phase, other phase) pair of
``legal/phases.py``, with and without a paused phase on record.
"""

from __future__ import annotations

import datetime as dt
import itertools

import dagster as dg
import pytest

from altus_pipeline.definitions import build_definitions
from altus_pipeline.legal.phases import CLOSED, OFF_RAMPS, ORDER, PHASES, PhaseError, move
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import legal_import
from altus_pipeline_tests.kpi.test_kpis import _id, _lease, _lt, _tenant
from altus_pipeline_tests.legal.test_legal import write_workbook
from altus_pipeline_tests.normalized.test_normalized import normalize_direct
from altus_pipeline_tests.support.raw import load_raw

MOVES = [
    (phase, target, paused)
    for phase, target in itertools.product(sorted(CLOSED), PHASES)
    for paused in (None, "filed")
    if target != phase
]


def test_the_terminal_phases_are_closed_and_every_off_ramp():
    assert ORDER[-1] == "closed"
    assert CLOSED == {"closed", *OFF_RAMPS}
    assert len(MOVES) == len(CLOSED) * (len(PHASES) - 1) * 2


@pytest.mark.parametrize(("phase", "target", "paused"), MOVES)
def test_a_terminal_phase_refuses_every_move(phase, target, paused):
    with pytest.raises(PhaseError, match=f"the case is closed \\({phase}\\); it cannot move to {target}$"):
        move(phase, paused, target)
    assert move(phase, paused, phase) == []  # the same phase again is no move


def test_an_import_ending_in_closed_closes_the_case_and_refuses_what_follows(warehouse, tmp_path):
    load_raw(
        warehouse,
        {
            "properties": [{"id": _id("P"), "name": "Court"}],
            "units": [{"id": _id("U"), "name": "1A", "property": _id("P"), "active": True}],
            "tenants": [_tenant("1")],
            "leases": [_lease("L", "P", ["U"], "2026-01-01", "2026-12-31", "Fixed", "ACTIVE", 1000)],
            "lease_tenants": [_lt("L", "1", "2026-01-01")],
        },
    )
    normalize_direct(warehouse)
    lease = _id("L")
    rows = [
        ["EV-1", None, None, None, lease, "referral", dt.date(2026, 9, 1)],
        ["EV-1", None, None, None, lease, "collections", dt.date(2026, 9, 20)],
        ["EV-1", None, None, None, lease, "Closed", dt.date(2026, 10, 1)],
        ["EV-1", None, None, None, lease, "settled", dt.date(2026, 10, 2)],
        ["EV-1", None, None, None, lease, "bankruptcy_stay", dt.date(2026, 10, 3)],
    ]
    path = write_workbook(tmp_path / "cases.xlsx", rows)
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    summary = legal_import(defs, dg.DagsterInstance.ephemeral(), str(path))
    assert summary.success, summary.errors

    with warehouse.connect() as conn:
        case = conn.execute(
            "SELECT current_phase, phase_date, is_closed FROM legal_cases WHERE case_key = 'EV-1'"
        ).fetchone()
        history = conn.execute(
            "SELECT to_phase FROM legal_case_phase_history h JOIN legal_cases c "
            "ON c.id = h.case_id WHERE c.case_key = 'EV-1' AND NOT h.skipped ORDER BY h.id"
        ).fetchall()
        staged = dict(conn.execute("SELECT row_number, errors FROM legal_case_import_staging").fetchall())
    assert case == ("closed", dt.date(2026, 10, 1), True)
    assert [p for (p,) in history] == ["referral", "collections", "closed"]
    assert [e["message"] for e in staged[5]] == [
        "row 5 (EV-1): PHASE settled refused: the case is closed (closed); it cannot move to settled"
    ]
    assert [e["message"] for e in staged[6]] == [
        "row 6 (EV-1): PHASE bankruptcy_stay refused: the case is closed (closed); it cannot move to bankruptcy_stay"
    ]
    assert all(staged[n] == [] for n in (2, 3, 4))
