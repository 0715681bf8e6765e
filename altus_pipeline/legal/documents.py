"""Where case documents are filed: ``/<root>/<Property>/<Case Key>/<phase>/<file name>``.

``DocumentStore`` is what the importer needs of a backend: file these bytes at this path,
say the file id and revision. ``LocalStore`` (a folder; the default for demos and tests)
is here; the Dropbox backend will implement the same two methods with the official SDK.
Names are sanitised so a cell can never climb out of the case's folder.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Protocol

ROOT = "Legal"


def sanitise(name: str) -> str:
    """One path segment: no separators, no ``..``, no control characters, never empty."""
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "", name).replace("/", "_").replace("\\", "_").strip()
    cleaned = re.sub(r"\.{2,}", "_", cleaned)
    return cleaned or "_"


def store_path(property_name: str | None, case_key: str, phase: str, file_name: str) -> str:
    parts = (ROOT, property_name or "No property", case_key, phase, Path(file_name).name)
    return "/" + "/".join(sanitise(p) for p in parts)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DocumentStore(Protocol):
    def upload(self, local: Path, path: str) -> tuple[str, str]:
        """File ``local`` at ``path`` (replacing what is there); (file id, revision)."""


class LocalStore:
    """Documents filed under a local folder (``ALTUS_HOME/legal_documents`` by default)."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def upload(self, local: Path, path: str) -> tuple[str, str]:
        target = self.base / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)
        content = sha256_of(target)
        return f"local:{hashlib.sha1(path.encode()).hexdigest()}", content[:16]
