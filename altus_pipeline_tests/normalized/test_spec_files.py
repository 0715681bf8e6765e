"""Generated files are current, say so on line 1, and ``.gitattributes`` marks them; no database.

The normalized layer's SQL is rendered from ``normalized/spec.py`` and compared as text; its
two hand-written files say that instead. ``test_normalized.py`` checks the migrated tables
against the spec, ``test_docs.py`` the content of ``docs/data_model.md``, ``test_asset_specs.py``
that of the asset-spec snapshot."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

from altus_pipeline.docs import DATA_MODEL
from altus_pipeline.docs import HEADER as DATA_MODEL_HEADER
from altus_pipeline.normalized import ddl
from altus_pipeline_tests.conftest import REPO
from altus_pipeline_tests.dagster.test_asset_specs import SNAPSHOT, UPDATE


def _line_one(path: Path) -> str:
    return path.read_text().split("\n", 1)[0]


def _generated_by_gitattributes(path: Path) -> bool:
    """Whether ``.gitattributes`` leaves ``path`` marked ``linguist-generated`` (the last matching line decides)."""
    relative, marked = path.relative_to(REPO).as_posix(), False
    for line in (REPO / ".gitattributes").read_text().splitlines():
        pattern, *attributes = line.split("#", 1)[0].split() or [""]
        if pattern and fnmatch(relative, pattern):
            for attribute in attributes:
                if attribute in ("linguist-generated", "linguist-generated=true"):
                    marked = True
                elif attribute in ("-linguist-generated", "!linguist-generated", "linguist-generated=false"):
                    marked = False
    return marked


def test_normalized_sql_files_are_rendered_from_the_spec():
    rendered = ddl.rendered()
    for name, text in rendered.items():
        assert text.split("\n", 1)[0] == ddl.HEADER, name
        assert (ddl.LAYER_DIR / name).read_text() == text, f"{name} is stale: python -m altus_pipeline.normalized.ddl"
    others = sorted(p.name for p in ddl.LAYER_DIR.glob("*.sql") if p.name not in rendered)
    assert others == ["normalized_pending_references.sql", "normalized_watermarks.sql"]
    assert all(_line_one(ddl.LAYER_DIR / name) == ddl.HAND_WRITTEN for name in others)


def test_generated_files_say_so_and_gitattributes_marks_them():
    generated = [ddl.LAYER_DIR / name for name in ddl.rendered()] + [DATA_MODEL, SNAPSHOT]
    assert _line_one(DATA_MODEL) == DATA_MODEL_HEADER
    assert UPDATE in _line_one(SNAPSHOT) and "do not edit" in _line_one(SNAPSHOT)
    assert [p.name for p in generated if not _generated_by_gitattributes(p)] == []
    hand_written = [p for p in ddl.LAYER_DIR.glob("*.sql") if p not in generated]
    hand_written += [REPO / "docs" / "kpis.md", REPO / "sql" / "views" / "get_full_units.sql"]
    assert [p.name for p in hand_written if _generated_by_gitattributes(p)] == []
