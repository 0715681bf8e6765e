"""A snapshot of every asset and check spec: any change to the graph shows up in review.

The snapshot (``snapshots/asset_specs.json``) holds, per asset, what an operator reads in
the UI: group, kinds, upstream assets, partitioning, backfill and freshness policies,
pools, table name, columns and checks (with whether they block). When a change to the
graph is intended, rewrite it with ``ALTUS_UPDATE_SNAPSHOTS=1 pytest
altus_pipeline_tests/test_asset_specs.py`` and review the diff. In CI (``CI`` set) that
variable fails the test instead: a snapshot rewritten there would pass whatever changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from altus_pipeline.definitions import defs

SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_specs.json"


def _partitions(node: Any) -> str | None:
    p = node.partitions_def
    if p is None:
        return None
    if isinstance(p, dg.TimeWindowPartitionsDefinition):  # the start date comes from the environment
        return f"{type(p).__name__}(cron={p.cron_schedule!r}, end_offset={p.end_offset})"
    return type(p).__name__


def _columns(metadata: dict) -> list[str] | None:
    schema = metadata.get("dagster/column_schema")
    return [f"{c.name} {c.type}" for c in schema.columns] if schema else None


def asset_specs() -> dict[str, dict]:
    graph = defs.resolve_asset_graph()
    specs = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        specs[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": _partitions(node),
            "backfill_policy": str(node.backfill_policy) if node.backfill_policy else None,
            "freshness_policy": str(node.freshness_policy) if node.freshness_policy else None,
            "pools": sorted(node.pools or []),
            "table_name": node.metadata.get("dagster/table_name"),
            "columns": _columns(node.metadata),
            "checks": sorted(f"{c.name}{' (blocking)' if graph.get(c).blocking else ''}" for c in node.check_keys),
        }
    return specs


def may_update_snapshot() -> bool:
    """Whether this run rewrites the snapshot: asked for, and never in CI (``CI`` set)."""
    if not os.environ.get("ALTUS_UPDATE_SNAPSHOTS"):
        return False
    if os.environ.get("CI"):
        raise AssertionError("ALTUS_UPDATE_SNAPSHOTS is set in CI (CI is set): the snapshot is only rewritten "
                             "locally, where the diff is reviewed; unset ALTUS_UPDATE_SNAPSHOTS")
    return True


def test_asset_specs_match_the_snapshot() -> None:
    current = json.dumps(asset_specs(), indent=1, sort_keys=True) + "\n"
    if may_update_snapshot():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.read_text() == current, (
        "the asset graph changed: review, then ALTUS_UPDATE_SNAPSHOTS=1 pytest altus_pipeline_tests/test_asset_specs.py")


def test_ci_refuses_to_rewrite_the_snapshot(monkeypatch) -> None:
    monkeypatch.setenv("ALTUS_UPDATE_SNAPSHOTS", "1")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(AssertionError, match="ALTUS_UPDATE_SNAPSHOTS is set in CI"):
        may_update_snapshot()
    monkeypatch.delenv("CI")
    assert may_update_snapshot()
    monkeypatch.delenv("ALTUS_UPDATE_SNAPSHOTS")
    assert not may_update_snapshot()
