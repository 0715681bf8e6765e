"""Where case documents are filed: ``/<root>/<Property>/<Case Key>/<phase>/<file name>``.

``DocumentStore`` is what the importer needs of a backend: file these bytes at this path,
say the file id and revision. ``LocalStore`` is a folder (the default, for demos and
tests); ``DropboxStore`` uses the official ``dropbox`` SDK with an access token, or a
refresh token and app key, from the environment. ``ALTUS_LEGAL_STORE`` picks one. Names
are sanitised so a cell can never climb out of the case's folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Protocol

from altus_pipeline import settings

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
        return f"local:{hashlib.sha1(path.encode()).hexdigest()}", f"{target.stat().st_mtime_ns:x}"


class DocumentStoreError(RuntimeError):
    """A document could not be filed; the message names the path and the reason, never a credential."""


class DropboxStore:
    """Documents filed in Dropbox through the official SDK.

    Credentials come from the environment: ``DROPBOX_ACCESS_TOKEN``, or
    ``DROPBOX_REFRESH_TOKEN`` with ``DROPBOX_APP_KEY`` (and ``DROPBOX_APP_SECRET`` for
    apps that have one). The SDK reads ``DROPBOX_API_HOST`` / ``DROPBOX_API_CONTENT_HOST``
    when imported, and ``ALTUS_DROPBOX_CA_CERTS`` names extra CA certificates (a proxy's,
    or a test server's).
    """

    MAX_BYTES = 150 * 1024 * 1024  # one upload call; larger files need an upload session

    def __init__(self) -> None:
        import dropbox

        token, refresh = os.environ.get("DROPBOX_ACCESS_TOKEN"), os.environ.get("DROPBOX_REFRESH_TOKEN")
        app_key = os.environ.get("DROPBOX_APP_KEY")
        if not token and not (refresh and app_key):
            raise DocumentStoreError("Dropbox store: set DROPBOX_ACCESS_TOKEN, or DROPBOX_REFRESH_TOKEN and DROPBOX_APP_KEY")
        session = dropbox.create_session(ca_certs=os.environ.get("ALTUS_DROPBOX_CA_CERTS") or None)
        self.client = dropbox.Dropbox(oauth2_access_token=token or None, oauth2_refresh_token=refresh or None,
                                      app_key=app_key or None, app_secret=os.environ.get("DROPBOX_APP_SECRET") or None,
                                      session=session, max_retries_on_error=3, max_retries_on_rate_limit=3)

    def upload(self, local: Path, path: str) -> tuple[str, str]:
        from dropbox import exceptions, files

        size = local.stat().st_size
        if size > self.MAX_BYTES:
            raise DocumentStoreError(f"Dropbox {path}: {size:,} bytes is over the {self.MAX_BYTES:,}-byte upload limit")
        try:
            meta = self.client.files_upload(local.read_bytes(), path, mode=files.WriteMode.overwrite, mute=True)
        except exceptions.AuthError as exc:
            raise DocumentStoreError(f"Dropbox {path}: authentication refused ({_tag(exc.error)})") from None
        except exceptions.ApiError as exc:
            raise DocumentStoreError(f"Dropbox {path}: upload refused ({_tag(exc.error)})") from None
        except (exceptions.HttpError, exceptions.InternalServerError, exceptions.RateLimitError) as exc:
            raise DocumentStoreError(f"Dropbox {path}: HTTP {getattr(exc, 'status_code', '?')}") from None
        return meta.id, meta.rev


def _tag(error: object) -> str:
    """The SDK error's union tag (``invalid_access_token``, ``path``…): safe to show."""
    return getattr(error, "_tag", None) or type(error).__name__


def store_from_env() -> DocumentStore:
    """``ALTUS_LEGAL_STORE``: ``local`` (default; under ``ALTUS_HOME/legal_documents``) or ``dropbox``."""
    kind = settings.legal_store()
    if kind == "dropbox":
        return DropboxStore()
    if kind == "local":
        return LocalStore(settings.project_home() / "legal_documents")
    raise DocumentStoreError(f"ALTUS_LEGAL_STORE={kind!r}: expected 'local' or 'dropbox'")
