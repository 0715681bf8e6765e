"""Settings read from the environment, in one place so every entry point agrees.

Nothing here is required: without any variable the project runs against the embedded
PostgreSQL under ``.altus/`` and the local DoorLoop sandbox.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DOORLOOP_DEFAULT_BASE_URL = "https://app.doorloop.com/api"
DEFAULT_SCHEMA = "altus"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def project_home() -> Path:
    """Where local state lives (embedded database, Dagster instance): ``ALTUS_HOME`` or ``./.altus``."""
    return Path(os.environ.get("ALTUS_HOME") or Path.cwd() / ".altus").resolve()


def warehouse_schema() -> str:
    """The one schema holding every warehouse object; never ``public`` (Supabase exposes it)."""
    schema = os.environ.get("ALTUS_SCHEMA", DEFAULT_SCHEMA)
    if not _SCHEMA_RE.match(schema) or schema == "public":
        raise ValueError(
            f"ALTUS_SCHEMA={schema!r} is not allowed: expected a lowercase identifier other than 'public'"
        )
    return schema


def database_url_override() -> str | None:
    """``ALTUS_DATABASE_URL`` (a real PostgreSQL, e.g. Supabase) when set."""
    return os.environ.get("ALTUS_DATABASE_URL") or None


def doorloop_base_url() -> str:
    return os.environ.get("DOORLOOP_BASE_URL", DOORLOOP_DEFAULT_BASE_URL).rstrip("/")


def doorloop_token() -> str | None:
    return os.environ.get("DOORLOOP_API_TOKEN") or None


def rate_limit(name: str, default: int) -> int | None:
    """A DoorLoop rate limit from ``DOORLOOP_RATE_LIMIT_PER_<NAME>``; ``0`` or ``off`` lifts it."""
    text = os.environ.get(f"DOORLOOP_RATE_LIMIT_PER_{name.upper()}", str(default)).strip().lower()
    if text in ("0", "off", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"DOORLOOP_RATE_LIMIT_PER_{name.upper()}={text!r}: expected a whole number or 'off'") from None


def rate_window_seconds() -> float:
    """Length of DoorLoop's "minute" window; only tests shorten it (``DOORLOOP_RATE_WINDOW_SECONDS``)."""
    return float(os.environ.get("DOORLOOP_RATE_WINDOW_SECONDS", "60"))


def partition_start() -> str:
    """First business date of the daily partitions (``ALTUS_PARTITION_START``)."""
    return os.environ.get("ALTUS_PARTITION_START", "2021-01-01")


def legal_workbook() -> str:
    """The legal team's workbook the ``legal_import`` asset reads when its run config names none."""
    return os.environ.get("ALTUS_LEGAL_WORKBOOK", "")


def legal_store() -> str:
    """Where legal documents are filed: ``local`` (default) or ``dropbox``."""
    return os.environ.get("ALTUS_LEGAL_STORE", "local")


def env_number(name: str, default: float, minimum: float = 0) -> float:
    """A numeric setting from the environment, with an error naming it when it is not a number."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected a number") from None
    if value < minimum:
        raise ValueError(f"{name}={text!r}: must be at least {minimum:g}")
    return value
