"""The lineage the assets declare is the lineage the SQL has.

The dependencies of the view assets, of ``kpi_daily_snapshot`` and of the legal import are
written by hand (``assets/views.py``, ``assets/kpis.py``, ``assets/legal.py``). Each is held
to what reads the tables: PostgreSQL's own record of what a view reads (``pg_depend`` through
the view's ``pg_rewrite`` rule), and the warehouse objects the KPI statement and the legal
import's SQL name. A missing dep lets Dagster run an asset before what it reads; an extra one
runs it (and marks it stale) for nothing."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from altus_pipeline.assets.kpis import SNAPSHOT
from altus_pipeline.assets.legal import LEGAL_KEYS
from altus_pipeline.definitions import build_definitions
from altus_pipeline.kpi.compute import SNAPSHOT_SQL
from altus_pipeline.warehouse.migrations import sql_objects

# What every view of the schema reads, as PostgreSQL recorded it when the view was created.
_VIEW_READS = """
SELECT DISTINCT v.relname, t.relname
FROM pg_class v
JOIN pg_rewrite r ON r.ev_class = v.oid
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
JOIN pg_class t ON t.oid = d.refobjid
WHERE v.relnamespace = current_schema()::regnamespace AND v.relkind IN ('v', 'm')
  AND t.relnamespace = current_schema()::regnamespace AND t.oid <> v.oid
"""
_LEGAL_IMPORTER = "altus_pipeline.legal.importer"


def _declared_deps() -> dict[str, set[str]]:
    graph = build_definitions().resolve_asset_graph()
    return {
        key.to_user_string(): {k.to_user_string() for k in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }


def _objects_named(text: str) -> set[str]:
    """The warehouse objects (``sql/``) a text names, outside ``--`` comments."""
    code = re.sub(r"--[^\n]*", "", text)
    words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", code))
    return words & {o.name for o in sql_objects()}


def _module_and_its_legal_imports(name: str) -> list[Path]:
    """The source of ``name`` and of every ``altus_pipeline.legal`` module it imports, transitively."""
    seen: dict[str, Path] = {}
    pending = [name]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen[module] = Path(importlib.util.find_spec(module).origin)
        tree = ast.parse(seen[module].read_text())
        pending += [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("altus_pipeline.legal.")
        ]
    return list(seen.values())


def test_view_assets_depend_on_what_postgresql_says_they_read(warehouse):
    with warehouse.connect() as conn:
        rows = conn.execute(_VIEW_READS).fetchall()
        views = {
            name
            for (name,) in conn.execute(
                "SELECT relname FROM pg_class WHERE relkind IN ('v', 'm') "
                "AND relnamespace = current_schema()::regnamespace"
            )
        }
    reads: dict[str, set[str]] = {name: set() for name in views}
    for view, table in rows:
        reads[view].add(table)
    declared = _declared_deps()
    assets = sorted(views & declared.keys())
    assert len(assets) >= 13, assets  # every get_full_* view, kpi_summary, doorloop_raw_work_orders
    wrong = {
        name: {"missing": sorted(reads[name] - declared[name]), "extra": sorted(declared[name] - reads[name])}
        for name in assets
        if declared[name] != reads[name]
    }
    assert wrong == {}


def test_kpi_snapshot_depends_on_the_tables_its_statement_reads():
    named = _objects_named(SNAPSHOT_SQL) - {SNAPSHOT}
    declared = _declared_deps()[SNAPSHOT]
    assert {"missing": sorted(named - declared), "extra": sorted(declared - named)} == {"missing": [], "extra": []}


def test_legal_assets_depend_on_the_tables_the_import_reads():
    sources = _module_and_its_legal_imports(_LEGAL_IMPORTER)
    named = set().union(*(_objects_named(p.read_text()) for p in sources)) - set(LEGAL_KEYS)
    declared = _declared_deps()
    for key in LEGAL_KEYS:
        assert {"missing": sorted(named - declared[key]), "extra": sorted(declared[key] - named)} == {
            "missing": [],
            "extra": [],
        }, key
