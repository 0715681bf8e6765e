"""The raw layer end to end: sandbox over HTTP → Dagster assets → PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
from psycopg import sql

from altus_pipeline.definitions import build_definitions
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.resources import DoorLoopResource, WarehouseResource
from altus_pipeline.runner import sync_raw
from altus_pipeline.sandbox.faults import FaultSpec
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import REPO, TOKEN
from altus_pipeline_tests.support.held import hold_request

ALTUS = str(Path(sys.executable).with_name("altus"))


def _defs(wh: Warehouse, server, **doorloop: object) -> dg.Definitions:
    options = {
        "rate_limit_per_minute": 0,
        "rate_limit_per_hour": 0,
        "backoff_base_seconds": 0.01,
        "timeout_seconds": 5.0,
    }
    return build_definitions(
        WarehouseResource(database_url=wh.url, schema_name=wh.schema),
        DoorLoopResource(base_url=server.base_url, token=TOKEN, **{**options, **doorloop}),
    )


def _sync(wh: Warehouse, server, instance: dg.DagsterInstance, dates=None, entities=None, **doorloop: object):
    chosen = entities or list(ENTITIES.values())
    return sync_raw(_defs(wh, server, **doorloop), chosen, instance, dates)


def _expected(records: list) -> dict[str, dict]:
    """What the raw table must hold for a listing: keyed records, the last duplicate winning."""
    return {r["id"]: r for r in records if isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"]}


def _live(wh: Warehouse, table: str) -> dict[str, dict]:
    with wh.connect() as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, payload FROM {} WHERE deleted_at IS NULL").format(sql.Identifier(table))
        ).fetchall()
    return dict(rows)


def _assert_exact(wh: Warehouse, server) -> None:
    for entity in ENTITIES.values():
        assert _live(wh, entity.raw_table) == _expected(server.records(entity.name)), entity.name


def _metadata(summaries) -> dict[str, dict]:
    merged: dict[str, dict] = {}
    for summary in summaries:
        assert summary.success
        merged.update(summary.materializations)
    return merged


def test_sync_equals_dataset_and_a_resync_rewrites_nothing(warehouse, sandbox_factory, small_dataset, dagster_instance):
    server = sandbox_factory(small_dataset)
    summaries = _sync(warehouse, server, dagster_instance)
    first = _metadata(summaries)
    _assert_exact(warehouse, server)
    checks = {k: v for s in summaries for k, v in s.checks.items()}
    # two raw checks per entity, and roadmap_naming on every materialized asset
    assert len(checks) == 2 * len(ENTITIES) + len(first) and all(checks.values()), checks
    assert set(first) == {e.raw_table for e in ENTITIES.values()} | {"doorloop_raw_work_orders"}
    assert sum(m["inserted"] for k, m in first.items() if "inserted" in m) == sum(
        len(_expected(server.records(e))) for e in ENTITIES
    )
    with warehouse.connect() as conn:
        before = conn.execute("SELECT count(*), max(last_changed_at) FROM doorloop_raw_leases").fetchone()
    second = _metadata(_sync(warehouse, server, dagster_instance))
    rewritten = {k: (m["inserted"], m["updated"], m["soft_deleted"]) for k, m in second.items() if "inserted" in m}
    assert all(v == (0, 0, 0) for v in rewritten.values()), rewritten
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*), max(last_changed_at) FROM doorloop_raw_leases").fetchone() == before
        audit = conn.execute("SELECT count(*), sum(unchanged) FROM doorloop_pipeline_audit").fetchone()
        tasks = conn.execute("SELECT count(*) FROM doorloop_raw_work_orders").fetchone()[0]
    assert audit[0] == 2 * len(ENTITIES)
    assert tasks == sum(1 for t in server.records("tasks") if t.get("type") == "WORK_ORDER")
    assert second["doorloop_raw_accounts"]["dagster/row_count"] == len(server.records("accounts"))


def test_deleted_records_are_soft_deleted_restored_and_changes_update_once(
    warehouse, sandbox_factory, small_dataset, dagster_instance
):
    server = sandbox_factory(small_dataset)
    touched = [ENTITIES[n] for n in ("leases", "lease_payments", "units")]
    _sync(warehouse, server, dagster_instance, entities=touched)
    lease = copy.deepcopy(server.records("leases")[0])
    payment = copy.deepcopy(server.records("lease_payments")[0])
    server.mutate("leases", delete_ids=[lease["id"]])
    server.mutate("lease_payments", delete_ids=[payment["id"]])
    gone = _metadata(_sync(warehouse, server, dagster_instance, entities=touched))
    assert gone["doorloop_raw_leases"]["soft_deleted"] == 1
    assert gone["doorloop_raw_lease_payments"]["soft_deleted"] == 1
    for entity in touched:
        _assert_exact_one(warehouse, server, entity.name)
    with warehouse.connect() as conn:
        assert conn.execute(
            "SELECT deleted_at IS NOT NULL FROM doorloop_raw_leases WHERE id = %s", (lease["id"],)
        ).fetchone()[0]

    server.mutate("leases", upsert=[lease])
    server.mutate("lease_payments", upsert=[payment])
    changed = copy.deepcopy(server.records("units")[0])
    changed["marketRent"] = (changed.get("marketRent") or 0) + 125
    server.mutate("units", upsert=[changed])
    back = _metadata(_sync(warehouse, server, dagster_instance, entities=touched))
    assert back["doorloop_raw_leases"]["updated"] == 1 and back["doorloop_raw_leases"]["soft_deleted"] == 0
    assert back["doorloop_raw_lease_payments"]["updated"] == 1
    assert back["doorloop_raw_units"]["updated"] == 1 and back["doorloop_raw_units"]["inserted"] == 0
    for entity in touched:
        _assert_exact_one(warehouse, server, entity.name)


def test_a_thirty_day_backfill_is_one_listing_per_partitioned_entity(
    warehouse, sandbox_factory, small_dataset, dagster_instance
):
    server = sandbox_factory(small_dataset)
    partitioned = [e for e in ENTITIES.values() if e.partitioned]
    end = dt.date(2026, 10, 31)
    start = end - dt.timedelta(days=29)
    meta = _metadata(_sync(warehouse, server, dagster_instance, dates=(start, end), entities=partitioned))
    listings = Counter(e.path for e in server.requests if e.query.get("page_number") == "1")
    assert listings == Counter({f"/api{e.path}": 1 for e in partitioned})
    for entity in partitioned:
        in_range = {
            i: r
            for i, r in _expected(server.records(entity.name)).items()
            if start.isoformat() <= str(r.get(entity.date_field))[:10] <= end.isoformat()
        }
        assert _live(warehouse, entity.raw_table) == in_range, entity.name
        assert meta[entity.raw_table]["api_total"] == len(in_range)
    assert sum(len(_live(warehouse, e.raw_table)) for e in partitioned) > 0, "the window holds data"


def test_range_run_soft_deletes_only_inside_its_range(warehouse, sandbox_factory, small_dataset, dagster_instance):
    server = sandbox_factory(small_dataset)
    entity = ENTITIES["lease_charges"]
    _sync(warehouse, server, dagster_instance, entities=[entity])
    charges = sorted(server.records("lease_charges"), key=lambda r: r["date"])
    old, recent = charges[0], charges[-1]
    server.mutate("lease_charges", delete_ids=[old["id"], recent["id"]])
    day = dt.date.fromisoformat(recent["date"])
    meta = _metadata(_sync(warehouse, server, dagster_instance, dates=(day, day), entities=[entity]))
    assert meta[entity.raw_table]["soft_deleted"] == 1
    live = _live(warehouse, entity.raw_table)
    assert old["id"] in live and recent["id"] not in live


def test_faults_still_end_exact(warehouse, sandbox_factory, small_dataset, dagster_instance):
    faults = FaultSpec.parse("5xx=0.2,429=0.1:3,slow=0.1,slow_seconds=1.5,truncate=0.1,drift=1.0:1")
    server = sandbox_factory(small_dataset, faults=faults, seed=11)
    chosen = [ENTITIES[n] for n in ("accounts", "leases", "units", "tenants", "lease_charges", "lease_payments")]
    meta = _metadata(_sync(warehouse, server, dagster_instance, entities=chosen, timeout_seconds=1.0))
    for entity in chosen:
        _assert_exact_one(warehouse, server, entity.name)
    assert sum(m.get("api_retries", 0) for m in meta.values()) > 0
    assert any(m.get("reads", 1) == 2 for m in meta.values()), "the drifted listing was read again"


def test_malformed_records_go_to_the_dlq_and_the_rest_loads(
    warehouse, sandbox_factory, small_dataset, dagster_instance
):
    small_dataset["accounts"] += [{"name": "no id here", "type": "ASSET_BANK"}, 42]
    server = sandbox_factory(small_dataset)
    meta = _metadata(_sync(warehouse, server, dagster_instance, entities=[ENTITIES["accounts"]]))
    assert meta["doorloop_raw_accounts"]["rejected"] == 2
    _assert_exact_one(warehouse, server, "accounts")
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT entity, stage, error_class, field, message, status FROM doorloop_error_records ORDER BY message"
        ).fetchall()
    assert len(rows) == 2
    assert all(r[:4] == ("accounts", "validate", "validation", "id") and r[5] == "open" for r in rows)
    assert any("is a int" in r[4] for r in rows) and any("no usable 'id'" in r[4] for r in rows)
    _sync(warehouse, server, dagster_instance, entities=[ENTITIES["accounts"]])
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*), min(attempts) FROM doorloop_error_records").fetchone() == (2, 2)


def test_records_holding_nul_go_to_the_dlq_and_the_rest_loads(
    warehouse, sandbox_factory, small_dataset, dagster_instance
):
    """PostgreSQL stores no NUL character in text or jsonb: one such record must not sink the listing."""
    bad = [
        {**small_dataset["accounts"][0], "id": "nul-top", "name": "Cash\x00Account"},
        {**small_dataset["accounts"][0], "id": "nul-deep", "notes": {"lines": ["fine", "tab\x00bed"]}},
        {**small_dataset["accounts"][0], "id": "nul\x00id"},
    ]
    small_dataset["accounts"] += bad
    server = sandbox_factory(small_dataset)
    meta = _metadata(_sync(warehouse, server, dagster_instance, entities=[ENTITIES["accounts"]]))
    assert meta["doorloop_raw_accounts"]["rejected"] == 3
    expected = {
        k: v for k, v in _expected(server.records("accounts")).items() if k not in {"nul-top", "nul-deep", "nul\x00id"}
    }
    assert _live(warehouse, ENTITIES["accounts"].raw_table) == expected
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT doorloop_id, field, message, payload FROM doorloop_error_records ORDER BY doorloop_id"
        ).fetchall()
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {"", "nul-deep", "nul-top"}
    assert by_id["nul-top"][1] == "name" and by_id["nul-top"][3]["name"] == "Cash\\u0000Account"
    assert by_id["nul-deep"][1] == "notes.lines[1]" and "holds a NUL character" in by_id["nul-deep"][2]
    assert by_id[""][1] == "id" and "without NUL" in by_id[""][2]


def _assert_exact_one(wh: Warehouse, server, name: str) -> None:
    assert _live(wh, ENTITIES[name].raw_table) == _expected(server.records(name))


def test_permanent_extract_error_is_recorded_and_fails_the_run(warehouse, sandbox_factory, small_dataset):
    server = sandbox_factory(small_dataset, denied_paths=frozenset({"/owners"}))
    summaries = sync_raw(
        _defs(warehouse, server),
        [ENTITIES["owners"], ENTITIES["accounts"]],
        dg.DagsterInstance.ephemeral(),
        None,
        raise_on_error=False,
    )
    assert not summaries[0].success
    with warehouse.connect() as conn:
        row = conn.execute("SELECT entity, stage, error_class, message FROM doorloop_error_records").fetchone()
    assert row[:3] == ("owners", "extract", "permanent")
    assert "405" in row[3] and TOKEN not in row[3]


def _cli_env(wh: Warehouse, server, home: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ALTUS_DATABASE_URL": wh.url,
        "ALTUS_SCHEMA": wh.schema,
        "ALTUS_HOME": str(home),
        "DOORLOOP_BASE_URL": server.base_url,
        "DOORLOOP_API_TOKEN": TOKEN,
        **extra,
    }


def test_sync_killed_midway_then_rerun_ends_exact(warehouse, sandbox_factory, small_dataset, tmp_path, dagster_storage):
    server = sandbox_factory(small_dataset)
    env = _cli_env(
        warehouse, server, tmp_path, DOORLOOP_RATE_LIMIT_PER_MINUTE="off", DOORLOOP_RATE_LIMIT_PER_HOUR="off"
    )
    names = ("accounts", "properties", "units", "leases", "tenants", "lease_tenants", "lease_charges")
    chosen = [a for n in names for a in ("--entity", n)]
    # A deterministic kill point: the fourth request is held unanswered until the sync is dead.
    held, release = hold_request(server)
    proc = subprocess.Popen(
        [ALTUS, "sync", *chosen], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert held.wait(120), "the sync never reached its fourth request"
        assert proc.poll() is None, "the sync must still be running when it is killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        release.set()
    with warehouse.connect() as conn:
        partial = conn.execute("SELECT count(*) FROM doorloop_pipeline_audit").fetchone()[0]
    assert partial < len(names), "killed before every asset finished"
    rerun = subprocess.run([ALTUS, "sync", *chosen], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    for name in names:
        _assert_exact_one(warehouse, server, name)


def test_parallel_syncs_share_one_rate_budget(warehouse, sandbox_factory, small_dataset, tmp_path, dagster_storage):
    window = 2.0
    server = sandbox_factory(small_dataset, rate_limit_per_minute=4, rate_window_seconds=window)
    env = _cli_env(
        warehouse,
        server,
        tmp_path,
        DOORLOOP_RATE_LIMIT_PER_MINUTE="4",
        DOORLOOP_RATE_LIMIT_PER_HOUR="off",
        DOORLOOP_RATE_WINDOW_SECONDS=str(window),
    )
    master = [a for e in ENTITIES.values() if not e.partitioned for a in ("--entity", e.name)]
    procs = [
        subprocess.Popen(
            [ALTUS, "sync", *master], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    for entity in ENTITIES.values():
        if not entity.partitioned:
            _assert_exact_one(warehouse, server, entity.name)
    refused = sum(1 for e in server.requests if e.status == 429)
    assert refused == 0, f"the shared budget should keep both runs under the limit, got {refused} 429s"
    with warehouse.connect() as conn:
        stamps = [
            r[0]
            for r in conn.execute("SELECT extract(epoch FROM called_at)::float8 FROM doorloop_api_call_log ORDER BY 1")
        ]
    assert len(stamps) >= 2 * 11
    busiest = max(sum(1 for t in stamps if s <= t < s + window) for s in stamps)
    assert busiest <= 4


def test_definitions_validate_and_every_entity_has_a_raw_asset(dagster_storage):
    defs = build_definitions()
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {e.raw_table for e in ENTITIES.values()} | {"doorloop_raw_work_orders"} <= keys
    partitioned = {
        k.to_user_string()
        for k in defs.resolve_asset_graph().get_all_asset_keys()
        if k.to_user_string().startswith("doorloop_raw_") and defs.resolve_assets_def(k).partitions_def is not None
    }
    assert partitioned == {e.raw_table for e in ENTITIES.values() if e.partitioned}
    out = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m", "altus_pipeline.definitions"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        # Dagster loads the project's instance from this folder: its storage in the test database,
        # not in an embedded PostgreSQL it would start under the project's home and leave running
        env={
            **{k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
            "ALTUS_DAGSTER_STORAGE_URL": dagster_storage,
        },
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The validate command warns about itself being superseded; nothing else may warn.
    ours = [
        line for line in out.stderr.splitlines() if "Warning" in line and "definitions_validate_command" not in line
    ]
    assert ours == [], out.stderr


def test_a_ranged_run_records_the_load_figures_once_on_its_last_partition(warehouse, sandbox_factory, small_dataset):
    """Each partition's materialization says how it was loaded; the figures of the one listing
    are on the last partition only (the asset's latest), not repeated per partition."""
    server = sandbox_factory(small_dataset)
    entity = ENTITIES["lease_charges"]
    instance = dg.DagsterInstance.ephemeral()
    first, last = dt.date(2026, 10, 1), dt.date(2026, 10, 5)
    [summary] = sync_raw(_defs(warehouse, server), [entity], instance, (first, last))
    records = instance.fetch_materializations(dg.AssetKey(entity.raw_table), limit=10, ascending=True).records
    assert [r.partition_key for r in records] == [(first + dt.timedelta(d)).isoformat() for d in range(5)]
    metas = [{k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records]
    rows = len(_live(warehouse, entity.raw_table))
    for meta in metas[:-1]:
        assert meta == {"dagster/row_count": rows, "loaded_in_range": "2026-10-01...2026-10-05"}
    assert metas[-1] == {**summary.materializations[entity.raw_table], "loaded_in_range": "2026-10-01...2026-10-05"}
    assert metas[-1]["api_requests"] == 1 and metas[-1]["rows_in_table"] == rows
