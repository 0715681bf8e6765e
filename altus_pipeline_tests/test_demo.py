"""`altus demo` (what `make demo` runs) on a machine with nothing set up: its own embedded
PostgreSQL and Dagster instance under a fresh ALTUS_HOME, a sandbox, the whole pipeline."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES

ALTUS = str(Path(sys.executable).with_name("altus"))
REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_the_whole_pipeline_from_nothing(tmp_path, small_dataset_pristine):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTUS_", "DOORLOOP_", "DAGSTER_"))}
    env["ALTUS_HOME"] = str(tmp_path / "home")
    try:
        done = subprocess.run([ALTUS, "demo"], env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    finally:
        subprocess.run([ALTUS, "db", "stop"], env=env, cwd=REPO, capture_output=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]

    # the runs fit on one screen: a line per layer, not Dagster's event log
    run_lines = done.stdout.split("\nraw and normalized tables in ")[0].splitlines()
    assert len(run_lines) <= 25 and not done.stderr.strip(), output[-4000:]

    # the transactions backfill starts where the generated history does, not years earlier
    first_day = DEFAULT_AS_OF.replace(year=DEFAULT_AS_OF.year - SCALES["small"].years, day=1)
    ranges = set(re.findall(r"^raw transactions (\d{4}-\d{2}-\d{2})\.\.", done.stdout, re.M))
    assert ranges == {first_day.isoformat()}

    # every generated record is in its raw table, and in the normalized table fed from it
    counts = {m[1]: (int(m[2].replace(",", "")), int(m[3].replace(",", "")))
              for m in re.finditer(r"^(doorloop_raw_\w+)\s+([\d,]+)\s+0\s+([\d,]+)$", done.stdout, re.M)}
    assert counts == {e.raw_table: (len(small_dataset_pristine[e.name]),) * 2 for e in ENTITIES.values()}
    assert "check failed" not in done.stdout and "check warning" not in done.stdout

    # and the KPI summary of the last full day of the history is printed
    assert f"kpi_summary as of {DEFAULT_AS_OF - dt.timedelta(days=1)}:" in done.stdout
    assert re.search(r"^Portfolio\s+\d+\s+\d+\s+\d+\.\d%", done.stdout, re.M)
