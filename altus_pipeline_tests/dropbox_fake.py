"""A local HTTPS stand-in for Dropbox's API and content hosts, enough for the real SDK to
upload files: ``/2/files/upload`` (overwrite mode) and ``/oauth2/token`` (refresh tokens).

Its certificate comes from a throwaway CA (``trustme``); the SDK trusts it through
``ca_certs``. Tokens are checked like Dropbox does, and every request is recorded. Paths
are case-insensitive, as in Dropbox: an upload to ``/a.pdf`` replaces ``/A.pdf``.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import trustme


def dropbox_content_hash(data: bytes) -> str:
    """Dropbox's content hash: sha256 over the sha256 of each 4 MiB block."""
    blocks = b"".join(hashlib.sha256(data[i:i + (4 << 20)]).digest() for i in range(0, max(len(data), 1), 4 << 20))
    return hashlib.sha256(blocks).hexdigest()


@dataclass
class FakeDropbox:
    access_token: str
    refresh_token: str | None = None
    app_key: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    headers_seen: list[str] = field(default_factory=list)

    def start(self, folder: Path) -> "FakeDropbox":
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
                    return self._reply(200, {"access_token": fake.access_token, "expires_in": 14400,
                                             "token_type": "bearer"})
                if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                    return self._reply(401, {"error_summary": "invalid_access_token/",
                                             "error": {".tag": "invalid_access_token"}})
                if self.path != "/2/files/upload":
                    return self._reply(404, {"error_summary": "not_found/"})
                arg = json.loads(self.headers["Dropbox-API-Arg"])
                path = next((p for p in fake.files if p.lower() == arg["path"].lower()), arg["path"])
                fake.files[path] = body
                now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                rev = hashlib.sha1(path.encode() + body).hexdigest()[:16]
                return self._reply(200, {
                    "name": path.rsplit("/", 1)[-1], "id": "id:" + hashlib.sha1(path.lower().encode()).hexdigest()[:22],
                    "client_modified": now, "server_modified": now, "rev": rev, "size": len(body),
                    "path_lower": path.lower(), "path_display": path, "is_downloadable": True,
                    "content_hash": dropbox_content_hash(body),
                })

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
