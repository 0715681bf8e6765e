"""Where case documents are filed: ``/<root>/<Property>/<Case Key>/<phase>/<file name>``.

``DocumentStore`` is what the importer needs of a backend: file these bytes at this path,
say the file id and revision. ``LocalStore`` is a folder (the default, for demos and
tests); ``DropboxStore`` uses the official ``dropbox`` SDK with an access token, or a
refresh token and app key, from the environment. ``ALTUS_LEGAL_STORE`` picks one. Names
are sanitised so a cell can never climb out of the case's folder.

A stored path is unique per (case, phase, source file) by construction: a case key or a
document's name is used as is when sanitising leaves it unchanged, and otherwise gets a
short hash of the original (``X_1~3f0c…`` for ``X/1``), so two keys or two files that
sanitise alike never share a path. A document listed from a subfolder of the documents
folder is hashed by its relative path (``sub1/same.pdf`` and ``sub2/same.pdf`` differ). The
hash depends only on the original text, so a path is the same on every re-import.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any, Mapping, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from altus_pipeline import settings

ROOT = "Legal"
CASE_FOLDER_PART = 4  # split_part(path, '/', 4) of /ROOT/<property>/<case>/<phase>/<file> is the case's folder
HASH_MARK = "~"


def sanitise(name: str) -> str:
    """One path segment: no separators, no ``..``, no control characters, never empty."""
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "", name).replace("/", "_").replace("\\", "_").strip()
    cleaned = re.sub(r"\.{2,}", "_", cleaned)
    return cleaned or "_"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _plain(name: str) -> bool:
    """Whether ``name`` can be a segment as written: sanitising keeps it, and it has no hash mark
    (so a plain name can never equal the hashed form of another)."""
    return sanitise(name) == name and HASH_MARK not in name


def case_folder(case_key: str) -> str:
    """The case's folder: its key, or the key sanitised plus a short hash of it when sanitising changes it."""
    return case_key if _plain(case_key) else f"{sanitise(case_key)}{HASH_MARK}{_short_hash(case_key)}"


def stored_name(source: str) -> str:
    """The stored name of a document listed as ``source`` (its path relative to the documents folder):
    the file name when ``source`` is a plain name, else that name sanitised with a short hash of ``source``."""
    if "/" not in source and _plain(source):
        return source
    name = Path(sanitise(source.rsplit("/", 1)[-1]))
    return f"{name.stem}{HASH_MARK}{_short_hash(source)}{name.suffix}"


def store_path(property_name: str | None, case_key: str, phase: str, source: str) -> str:
    """``/Legal/<property>/<case>/<phase>/<file>`` for the document ``source`` of a case in a phase."""
    folder = (ROOT, sanitise(property_name or "No property"), case_folder(case_key), sanitise(phase))
    return "/" + "/".join((*folder, stored_name(source)))


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
    when imported, and ``ALTUS_DROPBOX_CA_CERTS`` names the CA certificates to trust (a
    proxy's, or a test server's), whatever ``REQUESTS_CA_BUNDLE`` says. Every failure is a
    ``DocumentStoreError`` of one line: what failed, the likely cause, what to do.
    """

    MAX_BYTES = 150 * 1024 * 1024  # one upload call; larger files need an upload session

    def __init__(self) -> None:
        import dropbox

        token, refresh = os.environ.get("DROPBOX_ACCESS_TOKEN"), os.environ.get("DROPBOX_REFRESH_TOKEN")
        app_key = os.environ.get("DROPBOX_APP_KEY")
        if not token and not (refresh and app_key):
            raise DocumentStoreError("Dropbox store: set DROPBOX_ACCESS_TOKEN, or DROPBOX_REFRESH_TOKEN and DROPBOX_APP_KEY")
        ca_certs = os.environ.get("ALTUS_DROPBOX_CA_CERTS")
        if ca_certs and not Path(ca_certs).is_file():
            raise DocumentStoreError(f"ALTUS_DROPBOX_CA_CERTS={ca_certs}: no such file (a PEM bundle of CA "
                                     "certificates)")
        session = _PinnedCaSession(ca_certs) if ca_certs else dropbox.create_session()
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
        except requests.exceptions.SSLError as exc:
            raise DocumentStoreError(
                f"Dropbox {path}: TLS to {_host(exc)} failed ({_reason(exc)}); if a proxy or firewall inspects TLS, "
                "set ALTUS_DROPBOX_CA_CERTS to its CA certificate (PEM) and run the import again") from None
        except requests.exceptions.RequestException as exc:
            raise DocumentStoreError(
                f"Dropbox {path}: cannot reach {_host(exc)} ({_reason(exc)}); check the network, the proxy "
                "(HTTPS_PROXY) or DROPBOX_API_HOST, and run the import again") from None
        return meta.id, meta.rev


class _PinnedCaSession(requests.Session):
    """A session that verifies TLS against one CA bundle. requests lets ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` override ``session.verify``; here the bundle named for Dropbox wins."""

    def __init__(self, ca_certs: str) -> None:
        super().__init__()
        self.verify = ca_certs
        self.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=8))

    def merge_environment_settings(self, url: str | bytes | None, proxies: Mapping[str, str] | None, stream: Any,
                                   verify: Any, cert: Any) -> dict[str, Any]:
        return {**super().merge_environment_settings(url, proxies, stream, verify, cert), "verify": self.verify}


_REASONS = ("connection refused", "name or service not known", "temporary failure in name resolution",
            "no route to host", "network is unreachable", "connection reset by peer", "timed out",
            "nodename nor servname provided")


def _reason(exc: requests.exceptions.RequestException) -> str:
    """The cause a network error names (``connection refused``, ``certificate verify failed: …``),
    picked from its text so that no URL, header or credential is ever repeated."""
    text = str(exc).lower()
    verify = re.search(r"certificate verify failed: ([a-z ]+)", text)
    if verify:
        return f"certificate verify failed: {verify.group(1).strip()}"
    return next((reason for reason in _REASONS if reason in text), type(exc).__name__)


def _host(exc: requests.exceptions.RequestException) -> str:
    """The host:port a request went to (never the URL's user or query)."""
    request = getattr(exc, "request", None)
    if request is None or not request.url:
        return "Dropbox"
    url = urlsplit(str(request.url))
    return f"{url.hostname}:{url.port}" if url.port else str(url.hostname)


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
