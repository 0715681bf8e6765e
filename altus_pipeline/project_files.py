"""The files at the repository root that the code reads at run time, found the same way
in a checkout (editable install) and in an installed package.

``sql/``, ``roadmap_backend_cleanup_plan.md``, the default instance settings
``dagster.yaml``, ``workspace.yaml`` and ``docs/kpis.md`` (the KPI columns' comments) live
at the repository root, where people edit them. A wheel carries them as the package data of
``altus_pipeline.project_data``, which ``pyproject.toml`` maps onto that root
(``[tool.setuptools.package-dir]``), so they install under ``altus_pipeline/project_data/``.
A checkout has no such folder: the files are read where they are, beside the package.
Every reader asks ``project_file``; nothing else computes these paths.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGED = "project_data"  # the folder of the installed copy, inside the package


def installed() -> bool:
    """Whether the code runs from an installed package (its files are a copy, not the checkout's)."""
    return resources.files("altus_pipeline").joinpath(PACKAGED).is_dir()


def project_root() -> Path:
    """The folder holding ``sql/`` and the other files: the packaged copy when installed, else the checkout."""
    if installed():
        return Path(str(resources.files("altus_pipeline").joinpath(PACKAGED)))
    return Path(__file__).resolve().parents[1]


def project_file(relative: str) -> Path:
    """``relative`` (a path such as ``sql`` or ``dagster.yaml``) under ``project_root``."""
    return project_root() / relative
