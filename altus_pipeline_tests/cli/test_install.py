"""``pip install .`` (not editable) gives a working ``altus``: the files at the repository root
the code reads (``sql/``, the roadmap, the instance settings, ``docs/kpis.md``) ship as package
data, and a command run from a folder outside the checkout finds them in the installed package.

``test_demo.py`` runs ``altus demo`` with the same installed ``altus``."""

from __future__ import annotations

import os
import subprocess
import tomllib
import uuid
from pathlib import Path

import psycopg
import setuptools
from psycopg import sql

from altus_pipeline.docs import HEADER
from altus_pipeline.warehouse.comments import kpi_definitions
from altus_pipeline.warehouse.migrations import sql_objects
from altus_pipeline_tests.conftest import REPO

MAPPED = "altus_pipeline.project_data"  # pyproject.toml maps it onto the repository root


def test_every_package_of_the_tree_is_declared():
    """The package list is written out (a mapped package cannot be found): nothing of the tree is left out."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = setuptools.find_packages(str(REPO), include=["altus_pipeline", "altus_pipeline.*"])
    assert sorted(declared) == sorted([*found, MAPPED])


def test_installed_altus_migrates_and_validates_from_outside_the_checkout(
    installed_altus, pg_url, dagster_storage, tmp_path
):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTUS_", "DAGSTER_", "DOORLOOP_", "PYTHON"))}
    env.update(ALTUS_DATABASE_URL=pg_url, ALTUS_SCHEMA=schema, ALTUS_HOME=str(tmp_path / "home"))

    def run(*command: str | Path) -> str:
        done = subprocess.run(
            [str(c) for c in command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        return done.stdout

    try:
        # the code and the files it reads come from the install, not from the checkout
        where = run(
            installed_altus.with_name("python"),
            "-c",
            "import altus_pipeline, altus_pipeline.project_files as f; "
            "print(altus_pipeline.__file__); print(f.project_root())",
        )
        package, root = (Path(line) for line in where.splitlines())
        site = installed_altus.parents[1]
        assert site in package.parents and root == package.parent / "project_data", where
        assert REPO not in package.parents and REPO not in root.parents

        run(installed_altus, "db", "migrate")
        with psycopg.connect(pg_url) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            applied = {name for (name,) in conn.execute("SELECT object_name FROM doorloop_schema_migrations")}
            kpi_comment = conn.execute(
                "SELECT col_description(attrelid, attnum) FROM pg_attribute WHERE "
                "attrelid = 'kpi_daily_snapshot'::regclass AND attname = 'physical_occupancy'"
            ).fetchone()[0]
        assert applied == {o.name for o in sql_objects()}
        assert kpi_comment == kpi_definitions()["physical_occupancy"]  # read from the packaged docs/kpis.md

        assert run(installed_altus, "roadmap", "validate").startswith("roadmap OK")

        # the generated page goes where the user is, never into the installed copy
        packaged = root / "docs" / "data_model.md"
        before = packaged.read_bytes() if packaged.exists() else None
        assert run(installed_altus, "docs").strip() == f"wrote {tmp_path / 'data_model.md'}"
        assert (tmp_path / "data_model.md").read_text().startswith(HEADER)
        assert (packaged.read_bytes() if packaged.exists() else None) == before
        chosen = tmp_path / "out" / "model.md"
        run(installed_altus, "docs", "--out", chosen)
        assert chosen.read_text() == (tmp_path / "data_model.md").read_text()
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
