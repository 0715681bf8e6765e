"""The project installed as a user installs it: ``pip install .``, not editable, into a fresh venv.

Nothing is downloaded: the venv sees the test venv's site-packages through a ``.pth`` file
(the dependencies, and the setuptools that builds the wheel without build isolation), and
its own site-packages comes first, so ``altus_pipeline`` is imported from the wheel, never
from the checkout. The build reads a copy of the tree, so no ``build/`` lands in the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".altus", "build", "*.egg-info", "__pycache__", ".pytest_cache", "node_modules"
)


def install(tmp: Path) -> Path:
    """Install the project non-editable into a new venv under ``tmp``; the venv's ``bin`` folder."""
    source, venv = tmp / "source", tmp / "venv"
    shutil.copytree(REPO, source, ignore=_NOT_COPIED)
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = str(venv / "bin" / "python")
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (purelib / "altus_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--ignore-installed",
        "--disable-pip-version-check",
        str(source),
    )
    shutil.rmtree(source)
    return venv / "bin"


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout
