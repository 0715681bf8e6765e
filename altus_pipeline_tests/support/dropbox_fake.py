"""A local HTTPS stand-in for Dropbox's API and content hosts, enough for the real SDK to
upload files: ``/2/files/upload`` (overwrite mode), the upload session
(``/2/files/upload_session/start``, ``append_v2``, ``finish``) and ``/oauth2/token``
(refresh tokens).

Its certificate comes from a throwaway CA (``trustme``); the SDK trusts it through
``ca_certs``. Tokens are checked like Dropbox does, a chunk's ``content_hash`` and a
session's offset too, and every request is recorded with its body's size. Paths are
case-insensitive, as in Dropbox: an upload to ``/a.pdf`` replaces ``/A.pdf``.
``refuse[path]`` = (status, body) answers every upload to that path that way (a full
account, a folder in the way, a server error) until it is removed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import trustme

_SESSION_IDS = itertools.count(1)


def dropbox_content_hash(data: bytes) -> str:
    """Dropbox's content hash: sha256 over the sha256 of each 4 MiB block."""
    blocks = b"".join(hashlib.sha256(data[i : i + (4 << 20)]).digest() for i in range(0, max(len(data), 1), 4 << 20))
    return hashlib.sha256(blocks).hexdigest()


@dataclass
class FakeDropbox:
    access_token: str
    refresh_token: str | None = None
    app_key: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    headers_seen: list[str] = field(default_factory=list)
    body_sizes: list[tuple[str, int]] = field(default_factory=list)
    refuse: dict[str, tuple[int, dict]] = field(default_factory=dict)
    sessions: dict[str, bytearray] = field(default_factory=dict)

    def _metadata(self, path: str, body: bytes) -> dict:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rev = hashlib.sha1(path.encode() + body).hexdigest()[:16]
        return {
            "name": path.rsplit("/", 1)[-1],
            "id": "id:" + hashlib.sha1(path.lower().encode()).hexdigest()[:22],
            "client_modified": now,
            "server_modified": now,
            "rev": rev,
            "size": len(body),
            "path_lower": path.lower(),
            "path_display": path,
            "is_downloadable": True,
            "content_hash": dropbox_content_hash(body),
        }

    def _write(self, requested: str, body: bytes) -> tuple[int, dict]:
        """File ``body`` at ``requested`` (replacing the same path in any case), or the refusal set for it."""
        refusal = self.refuse.get(requested.lower())
        if refusal is not None:
            return refusal
        path = next((p for p in self.files if p.lower() == requested.lower()), requested)
        self.files[path] = body
        return 200, self._metadata(path, body)

    def _session_call(self, route: str, arg: dict, body: bytes) -> tuple[int, dict]:
        if route == "start":
            session_id = f"session-{next(_SESSION_IDS)}"
            self.sessions[session_id] = bytearray(body)
            return 200, {"session_id": session_id}
        cursor = arg["cursor"]
        data = self.sessions.get(cursor["session_id"])
        if data is None:
            return 409, {
                "error_summary": "lookup_failed/not_found/",
                "error": {".tag": "lookup_failed", "lookup_failed": {".tag": "not_found"}},
            }
        if cursor["offset"] != len(data):
            return 409, {
                "error_summary": "lookup_failed/incorrect_offset/",
                "error": {
                    ".tag": "lookup_failed",
                    "lookup_failed": {".tag": "incorrect_offset", "correct_offset": len(data)},
                },
            }
        data += body
        if route == "append_v2":
            return 200, {}
        status, reply = self._write(arg["commit"]["path"], bytes(data))
        if status == 200:
            del self.sessions[cursor["session_id"]]
        return status, reply

    def start(self, folder: Path) -> FakeDropbox:
        ca = trustme.CA()
        self.ca_file = folder / "fake-dropbox-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(("POST", self.path))
                fake.headers_seen.append(str(self.headers))
                if self.path == "/oauth2/token":
                    form = parse_qs(body.decode())
                    if form.get("refresh_token") != [fake.refresh_token] or form.get("client_id") != [fake.app_key]:
                        return self._reply(400, {"error": "invalid_grant"})
                    return self._reply(
                        200, {"access_token": fake.access_token, "expires_in": 14400, "token_type": "bearer"}
                    )
                if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                    return self._reply(
                        401, {"error_summary": "invalid_access_token/", "error": {".tag": "invalid_access_token"}}
                    )
                arg = json.loads(self.headers.get("Dropbox-API-Arg") or "{}")
                fake.body_sizes.append((self.path, len(body)))
                if arg.get("content_hash") and arg["content_hash"] != dropbox_content_hash(body):
                    return self._reply(
                        409, {"error_summary": "content_hash_mismatch/", "error": {".tag": "content_hash_mismatch"}}
                    )
                if self.path == "/2/files/upload":
                    return self._reply(*fake._write(arg["path"], body))
                if self.path.startswith("/2/files/upload_session/"):
                    return self._reply(*fake._session_call(self.path.rsplit("/", 1)[-1], arg, body))
                return self._reply(404, {"error_summary": "not_found/"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
