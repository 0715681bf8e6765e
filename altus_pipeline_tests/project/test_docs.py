"""The project's own documentation: docs/data_model.md is generated and current, and nothing
points a reader at documents outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from altus_pipeline.docs import COMMAND, DATA_MODEL, read_catalog, render
from altus_pipeline.normalized.spec import TABLES

REPO = Path(__file__).resolve().parents[2]
_SKIPPED_DIRS = {".git", ".venv", ".altus", "__pycache__", "node_modules", ".pytest_cache"}
# Built from parts so this file does not cite them itself.
_OUTSIDE = re.compile("|".join((re.escape("reference" + "/"), re.escape(".." + "/shared"), "API" + " reference")))


def test_data_model_is_current(warehouse) -> None:
    """Fails while docs/data_model.md differs from what `altus docs` would write."""
    expected = render(read_catalog(warehouse))
    assert DATA_MODEL.read_text() == expected, f"docs/data_model.md is stale: run `{COMMAND}`"


def test_data_model_covers_every_object(warehouse) -> None:
    text = render(read_catalog(warehouse))
    assert f"`{COMMAND}`" in text.splitlines()[0]
    for name in [
        *(n for t in TABLES.values() for n in t.objects),
        "kpi_daily_snapshot",
        "get_full_rent_roll",
        "doorloop_raw_{entity}",
        "doorloop_error_records",
        "legal_cases",
    ]:
        assert f"### {name}\n" in text, name
    assert "normalized_units }o--|| normalized_properties : property_id" in text


def _text_files() -> list[Path]:
    files = []
    for path in REPO.rglob("*"):
        parts = set(path.relative_to(REPO).parts)
        if path.is_file() and not parts & _SKIPPED_DIRS and not any(p.endswith(".egg-info") for p in parts):
            files.append(path)
    return files


def test_nothing_cites_documents_outside_the_repository() -> None:
    """Every definition a user needs is in docs/; the team's working notes are not shipped."""
    offenders = []
    for path in _text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        offenders += [
            f"{path.relative_to(REPO)}:{n}: {line.strip()}"
            for n, line in enumerate(text.splitlines(), 1)
            if _OUTSIDE.search(line)
        ]
    assert not offenders, "\n".join(offenders)
