"""`altus demo` (what `make demo` runs) on a machine with nothing set up: its own embedded
PostgreSQL and Dagster instance under a fresh ALTUS_HOME, a sandbox, the whole pipeline. The
`altus` is a non-editable install run outside the checkout (see test_install.py), so the demo
also proves the installed package finds everything it reads."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess

import psycopg

from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES


def test_demo_runs_the_whole_pipeline_from_nothing(tmp_path, small_dataset_pristine, installed_altus):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTUS_", "DOORLOOP_", "DAGSTER_", "PYTHON"))}
    env["ALTUS_HOME"] = str(tmp_path / "home")
    altus, cwd = str(installed_altus), tmp_path
    try:
        done = subprocess.run([altus, "demo"], env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
        url = subprocess.run(
            [altus, "db", "url"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
        ).stdout.strip()
        with psycopg.connect(url) as conn:
            conn.execute("SET search_path TO altus")
            # the legal import is a run of the legal assets, recorded like any other, before the views
            legal_runs = conn.execute(
                "SELECT DISTINCT run_id FROM doorloop_pipeline_audit WHERE asset_key = 'legal_cases'"
            ).fetchall()
            legal_view = conn.execute("SELECT count(*) FROM get_full_legal_cases").fetchone()[0]
    finally:
        subprocess.run([altus, "db", "stop"], env=env, cwd=cwd, capture_output=True, timeout=120)
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
    counts = {
        m[1]: (int(m[2].replace(",", "")), int(m[3].replace(",", "")))
        for m in re.finditer(r"^(doorloop_raw_\w+)\s+([\d,]+)\s+0\s+([\d,]+)$", done.stdout, re.M)
    }
    assert counts == {e.raw_table: (len(small_dataset_pristine[e.name]),) * 2 for e in ENTITIES.values()}
    assert "check failed" not in done.stdout and "check warning" not in done.stdout

    # and the KPI summary of the last full day of the history is printed
    assert f"kpi_summary as of {DEFAULT_AS_OF - dt.timedelta(days=1)}:" in done.stdout
    assert re.search(r"^Portfolio\s+\d+\s+\d+\s+\d+\.\d%", done.stdout, re.M)
    # a row per property, none reading as a repeat (properties sharing a name show their street)
    summary = done.stdout.split(" as of ", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    labels = [re.split(r"\s{2,}", line.strip())[0] for line in summary]
    assert len(labels) == len(small_dataset_pristine["properties"]) + 1
    assert len(set(labels)) == len(labels), labels

    # the sample legal workbook is imported into the local store and its cases printed by phase
    assert re.search(
        r"^rows in workbook 10, rows new or changed 10, rows processed 10, rows with errors 0, .*"
        r"documents filed 8",
        done.stdout,
        re.M,
    ), done.stdout[-3000:]
    cases = dict(re.findall(r"^(EV-DEMO-\d{3})\s+(\w+)\s+\d{4}-\d{2}-\d{2}\s+\d+$", done.stdout, re.M))
    assert cases == {
        "EV-DEMO-001": "referral",
        "EV-DEMO-002": "notice_served",
        "EV-DEMO-003": "hearing_scheduled",
        "EV-DEMO-004": "judgment",
        "EV-DEMO-005": "settled",
    }
    filed = sorted(p.name for p in (tmp_path / "home" / "legal_documents").rglob("*") if p.is_file())
    assert len(filed) == 8 and all(p.endswith((".pdf", ".txt")) for p in filed)
    assert len(legal_runs) == 1 and legal_view == len(cases)
