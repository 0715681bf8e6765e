"""The fixed cost of an ``altus`` command around its work: what it imports, how it exits.

Every command that runs assets (``altus sync`` first) loads the Definitions, which hold the
legal assets; pandas and openpyxl, a third of a second of start-up, are imported only where a
legal workbook is read or written. The garbage collector spends less time on what lives as
long as the command: its youngest generation is collected less often, and at exit the objects
left are frozen out of its reach (its last pass over everything cost a second after a sync).
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from altus_pipeline.cli.main import GC_YOUNG_THRESHOLD, main

LOAD_DEFINITIONS = """
import sys
import altus_pipeline.runner
from altus_pipeline.definitions import build_definitions
build_definitions()
print(sorted(name for name in ("pandas", "openpyxl") if name in sys.modules))
"""


def test_loading_the_definitions_imports_no_workbook_library() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_DEFINITIONS], capture_output=True, text=True, check=True, timeout=120
    )
    assert loaded.stdout.strip() == "[]"


EXIT = """
import atexit, contextlib, gc, io, os
atexit.register(lambda: print(gc.get_freeze_count() > 0))  # registered first, so it runs last
from altus_pipeline.cli.main import main
os.environ["ALTUS_DATABASE_URL"] = "postgresql://postgres@localhost:5432/postgres"
with contextlib.redirect_stdout(io.StringIO()):
    main(["db", "url"], standalone_mode=False)
"""


def test_the_objects_left_at_exit_are_frozen_out_of_the_collectors_reach() -> None:
    ended = subprocess.run([sys.executable, "-c", EXIT], capture_output=True, text=True, check=True, timeout=120)
    assert ended.stdout.strip() == "True"


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_a_command_collects_its_young_garbage_less_often(
    thresholds: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.set_threshold(700, *thresholds[1:])
    monkeypatch.setenv("ALTUS_DATABASE_URL", "postgresql://postgres@localhost:5432/postgres")
    assert CliRunner().invoke(main, ["db", "url"]).exit_code == 0
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *thresholds[1:])
