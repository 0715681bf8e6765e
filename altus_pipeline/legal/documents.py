"""Where case documents are filed: ``/<root>/<Property>/<Case Key>/<phase>/<file name>``.

``DocumentStore`` is what the importer needs of a backend: file these bytes at this path,
say the file id and revision. ``LocalStore`` is a folder (the default, for demos and
tests); ``DropboxStore`` uses the official ``dropbox`` SDK with an access token, or a
refresh token and app key, from the environment. ``open_store`` builds one (the
``LegalStoreResource`` of ``resources.py`` calls it, by default as ``ALTUS_LEGAL_STORE``
says). Names are sanitised so a cell can never climb out of the case's
folder, and a document over ``MAX_DOCUMENT_BYTES`` is refused on its row.

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from altus_pipeline import settings

ROOT = "Legal"
CASE_FOLDER_PART = 4  # split_part(path, '/', 4) of /ROOT/<property>/<case>/<phase>/<file> is the case's folder
HASH_MARK = "~"
MAX_DOCUMENT_BYTES = 2 * 1024**3  # a document past this is an error on its row, in every store
UPLOAD_SESSION_THRESHOLD = 150 * 1024**2  # Dropbox's limit for one upload call; larger files go up in a session
UPLOAD_CHUNK_BYTES = 32 * 1024**2  # one session call's data, read from disk (a multiple of Dropbox's 4 MiB block)


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


class DocumentStoreError(RuntimeError):
    """A document could not be filed; the message names the path and the reason, never a credential."""


def size_refusal(size: int) -> str | None:
    """Why a document of ``size`` bytes is not filed, or None: every store holds files up to
    ``MAX_DOCUMENT_BYTES`` (read at call time, so a test may lower it)."""
    if size > MAX_DOCUMENT_BYTES:
        return f"{size:,} bytes is over the {MAX_DOCUMENT_BYTES:,}-byte limit for a document; split or compress it"
    return None


class LocalStore:
    """Documents filed under a local folder (``ALTUS_HOME/legal_documents`` by default)."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def upload(self, local: Path, path: str) -> tuple[str, str]:
        target = self.base / path.lstrip("/")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, target)
        except OSError as exc:
            raise DocumentStoreError(
                f"local store {path}: cannot write under {self.base} ({exc.strerror or exc}); "
                "fix the folder, then run the import again"
            ) from None
        return f"local:{hashlib.sha1(path.encode()).hexdigest()}", f"{target.stat().st_mtime_ns:x}"


@dataclass(frozen=True)
class DropboxAuth:
    """The names of the environment variables that hold the Dropbox credentials (never their values):
    an access token, or a refresh token with the app key (and secret, for an app that has one)."""

    access_token: str = "DROPBOX_ACCESS_TOKEN"
    refresh_token: str = "DROPBOX_REFRESH_TOKEN"
    app_key: str = "DROPBOX_APP_KEY"
    app_secret: str = "DROPBOX_APP_SECRET"


class DropboxStore:
    """Documents filed in Dropbox through the official SDK.

    Credentials are read from the environment variables ``auth`` names. The SDK reads
    ``DROPBOX_API_HOST`` / ``DROPBOX_API_CONTENT_HOST`` when imported; ``ca_certs`` (default
    ``ALTUS_DROPBOX_CA_CERTS``) names the CA certificates to trust (a proxy's, or a test
    server's), whatever ``REQUESTS_CA_BUNDLE`` says. A file up to ``UPLOAD_SESSION_THRESHOLD``
    goes up in one call; a larger one in an upload session, ``UPLOAD_CHUNK_BYTES`` at a time
    read from disk, and its Dropbox content hash is checked against what was read. Every
    failure is a ``DocumentStoreError`` of one line: what failed, the likely cause, what to do.
    """

    def __init__(
        self, auth: DropboxAuth = DropboxAuth(), ca_certs: str | None = None, max_retries_on_error: int = 3
    ) -> None:
        import dropbox

        token, refresh = os.environ.get(auth.access_token), os.environ.get(auth.refresh_token)
        app_key = os.environ.get(auth.app_key)
        if not token and not (refresh and app_key):
            raise DocumentStoreError(
                f"Dropbox store: set {auth.access_token}, or {auth.refresh_token} and {auth.app_key}"
            )
        ca_certs = ca_certs or os.environ.get("ALTUS_DROPBOX_CA_CERTS")
        if ca_certs and not Path(ca_certs).is_file():
            raise DocumentStoreError(
                f"Dropbox CA certificates {ca_certs}: no such file (a PEM bundle of CA "
                "certificates; ALTUS_DROPBOX_CA_CERTS)"
            )
        session = _PinnedCaSession(ca_certs) if ca_certs else dropbox.create_session()
        self.client = dropbox.Dropbox(
            oauth2_access_token=token or None,
            oauth2_refresh_token=refresh or None,
            app_key=app_key or None,
            app_secret=os.environ.get(auth.app_secret) or None,
            session=session,
            max_retries_on_error=max_retries_on_error,
            max_retries_on_rate_limit=3,
        )

    def upload(self, local: Path, path: str) -> tuple[str, str]:
        from dropbox import exceptions

        size = local.stat().st_size
        refusal = size_refusal(size)
        if refusal:
            raise DocumentStoreError(f"Dropbox {path}: {refusal}")
        try:
            meta = (
                self._in_session(local, path, size)
                if size > UPLOAD_SESSION_THRESHOLD
                else self._in_one_call(local, path)
            )
        except exceptions.AuthError as exc:
            raise DocumentStoreError(f"Dropbox {path}: authentication refused ({_tags(exc.error)})") from None
        except exceptions.ApiError as exc:
            tags = _tags(exc.error)
            raise DocumentStoreError(f"Dropbox {path}: upload refused ({tags}); {_advice(tags)}") from None
        except (exceptions.HttpError, exceptions.InternalServerError, exceptions.RateLimitError) as exc:
            raise DocumentStoreError(
                f"Dropbox {path}: HTTP {getattr(exc, 'status_code', '?')} (Dropbox had an error "
                "or is busy); run the import again later"
            ) from None
        except requests.exceptions.SSLError as exc:
            raise DocumentStoreError(
                f"Dropbox {path}: TLS to {_host(exc)} failed ({_reason(exc)}); if a proxy or firewall inspects TLS, "
                "set ALTUS_DROPBOX_CA_CERTS to its CA certificate (PEM) and run the import again"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise DocumentStoreError(
                f"Dropbox {path}: cannot reach {_host(exc)} ({_reason(exc)}); check the network, the proxy "
                "(HTTPS_PROXY) or DROPBOX_API_HOST, and run the import again"
            ) from None
        except exceptions.DropboxException as exc:
            raise DocumentStoreError(
                f"Dropbox {path}: upload failed ({type(exc).__name__}); run the import again"
            ) from None
        return meta.id, meta.rev

    def _in_one_call(self, local: Path, path: str) -> Any:
        from dropbox import files

        return self.client.files_upload(local.read_bytes(), path, mode=files.WriteMode.overwrite, mute=True)

    def _in_session(self, local: Path, path: str, size: int) -> Any:
        """Start, append, finish: one chunk of the file in memory at a time. The SDK sends each
        chunk's content hash and Dropbox checks it; the whole file's hash is checked here."""
        from dropbox import files
        from dropbox.content_hash import DropboxContentHasher

        hasher, chunk = DropboxContentHasher(), UPLOAD_CHUNK_BYTES
        with local.open("rb") as handle:

            def read(count: int) -> bytes:
                data = handle.read(count)
                if len(data) != count:
                    raise DocumentStoreError(
                        f"Dropbox {path}: {local.name} changed while uploading; run the import again"
                    )
                hasher.update(data)
                return data

            started = self.client.files_upload_session_start(read(min(chunk, size)))
            cursor = files.UploadSessionCursor(started.session_id, min(chunk, size))
            while size - cursor.offset > chunk:
                self.client.files_upload_session_append_v2(read(chunk), cursor)
                cursor.offset += chunk
            meta = self.client.files_upload_session_finish(
                read(size - cursor.offset), cursor, files.CommitInfo(path, mode=files.WriteMode.overwrite, mute=True)
            )
        if meta.size != size or meta.content_hash != hasher.hexdigest():
            raise DocumentStoreError(
                f"Dropbox {path}: the stored file differs from {local.name} ({meta.size:,} of "
                f"{size:,} bytes, content hash mismatch); run the import again"
            )
        return meta


class _PinnedCaSession(requests.Session):
    """A session that verifies TLS against one CA bundle. requests lets ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` override ``session.verify``; here the bundle named for Dropbox wins."""

    def __init__(self, ca_certs: str) -> None:
        super().__init__()
        self.verify = ca_certs
        self.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=8))

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Mapping[str, str] | None, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        return {**super().merge_environment_settings(url, proxies, stream, verify, cert), "verify": self.verify}


_REASONS = (
    "connection refused",
    "name or service not known",
    "temporary failure in name resolution",
    "no route to host",
    "network is unreachable",
    "connection reset by peer",
    "timed out",
    "nodename nor servname provided",
)


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


def _tags(error: object) -> str:
    """The SDK error's union tags, outermost first (``path/insufficient_space``, ``path/conflict/folder``,
    ``invalid_access_token``): Dropbox's own reason, safe to show."""
    tags: list[str] = []
    kind = type(error).__name__
    while error is not None and len(tags) < 6:
        tag = getattr(error, "_tag", None)
        if tag is None:  # a struct around the reason (UploadWriteFailed.reason)
            error = getattr(error, "reason", None)
            continue
        tags.append(tag)
        error = getattr(error, "_value", None)
    return "/".join(tags) or kind


_ADVICE = {
    "insufficient_space": "the Dropbox account is full; free space or add storage, then run the import again",
    "conflict": "something else is at that path in Dropbox; move it away, then run the import again",
    "no_write_permission": "the account may not write there; check the app's files.content.write scope and the "
    "folder's sharing, then run the import again",
    "disallowed_name": "Dropbox does not allow that name; rename the document",
    "too_many_write_operations": "Dropbox is busy with other writes there; run the import again in a minute",
    "content_hash_mismatch": "the data arrived damaged or the file changed; run the import again",
}


def _advice(tags: str) -> str:
    """What to do about a refusal, from the most specific tag Dropbox gave that we know."""
    return next(
        (_ADVICE[t] for t in reversed(tags.split("/")) if t in _ADVICE),
        "fix the cause Dropbox names, then run the import again",
    )


def open_store(
    kind: str,
    folder: Path | None = None,
    auth: DropboxAuth = DropboxAuth(),
    ca_certs: str | None = None,
    max_retries_on_error: int = 3,
) -> DocumentStore:
    """The store of ``kind``: ``local`` (under ``folder``, default ``ALTUS_HOME/legal_documents``) or ``dropbox``."""
    if kind == "dropbox":
        return DropboxStore(auth, ca_certs, max_retries_on_error)
    if kind == "local":
        return LocalStore(folder or settings.project_home() / "legal_documents")
    raise DocumentStoreError(f"legal document store {kind!r}: expected 'local' or 'dropbox' (ALTUS_LEGAL_STORE)")
