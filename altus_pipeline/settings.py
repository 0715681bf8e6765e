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


PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class ConfigurationError(ValueError):
    """A setting this process cannot work with; the message names it and says what to change."""


def project_home() -> Path:
    """Where local state lives (embedded database, Dagster instance), whoever asks.

    ``ALTUS_HOME`` when set (made absolute against the project, not the current folder);
    else ``.altus`` in the source checkout this package runs from; else, for a package
    installed without a checkout, ``$XDG_DATA_HOME/altus``. Never the current directory:
    ``dagster dev`` and its run workers start in other folders than the CLI.
    """
    configured = os.environ.get("ALTUS_HOME")
    if configured:
        return (project_root() / Path(configured).expanduser()).resolve()
    if (PACKAGE_ROOT / "pyproject.toml").is_file() and (PACKAGE_ROOT / "sql").is_dir():
        return PACKAGE_ROOT / ".altus"
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return (Path(data_home) / "altus").resolve()


def project_root() -> Path:
    """The source checkout holding this package, or the home folder for an installed one."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() else Path.home()


def require_home(expected: Path, who: str) -> None:
    """Refuse to run where ``who`` keeps its warehouse in another home than this process.

    Only the embedded PostgreSQL lives in the home; with ``ALTUS_DATABASE_URL`` set the
    warehouse is that database wherever the home is.
    """
    if database_url_override() is not None:
        return
    mine = project_home()
    if expected.resolve() != mine:
        raise ConfigurationError(
            f"{who} keeps its warehouse under {expected.resolve()}, but this process would start an embedded "
            f"PostgreSQL under {mine}: set ALTUS_HOME={expected.resolve()} (or unset ALTUS_HOME in both) "
            "so every process uses one warehouse"
        )


def instance_pinned_home() -> Path | None:
    """The home pinned by the Dagster instance under ``DAGSTER_HOME`` (``altus`` writes it), if any."""
    import yaml

    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) / "dagster.yaml" if home else None
    if path is None or not path.is_file():
        return None
    config = yaml.safe_load(path.read_text()) or {}
    pinned = (((config.get("storage") or {}).get("custom") or {}).get("config") or {}).get("altus_home")
    return Path(pinned) if pinned else None


def warehouse_schema() -> str:
    """The one schema holding every warehouse object; never ``public`` (Supabase exposes it)."""
    schema = os.environ.get("ALTUS_SCHEMA", DEFAULT_SCHEMA)
    if not _SCHEMA_RE.match(schema) or schema == "public":
        raise ConfigurationError(
            f"ALTUS_SCHEMA={schema!r} is not allowed: expected a lowercase identifier other than 'public'"
        )
    return schema


def database_url_override() -> str | None:
    """``ALTUS_DATABASE_URL`` (a real PostgreSQL, e.g. Supabase) when set."""
    return os.environ.get("ALTUS_DATABASE_URL") or None


def doorloop_base_url() -> str:
    return os.environ.get("DOORLOOP_BASE_URL", DOORLOOP_DEFAULT_BASE_URL).rstrip("/")


# The DoorLoop token's variable: the resource reads it through dg.EnvVar, so the UI names the
# variable and never shows its value.
TOKEN_VARIABLE = "DOORLOOP_API_TOKEN"


def doorloop_token() -> str | None:
    return os.environ.get(TOKEN_VARIABLE) or None


def rate_limit(name: str, default: int) -> int | None:
    """A DoorLoop rate limit from ``DOORLOOP_RATE_LIMIT_PER_<NAME>``; ``0`` or ``off`` lifts it."""
    text = os.environ.get(f"DOORLOOP_RATE_LIMIT_PER_{name.upper()}", str(default)).strip().lower()
    if text in ("0", "off", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(
            f"DOORLOOP_RATE_LIMIT_PER_{name.upper()}={text!r}: expected a whole number or 'off'"
        ) from None


def rate_window_seconds() -> float:
    """Length of DoorLoop's "minute" window; only tests shorten it (``DOORLOOP_RATE_WINDOW_SECONDS``)."""
    return float(os.environ.get("DOORLOOP_RATE_WINDOW_SECONDS", "60"))


def partition_start() -> str:
    """First business date of the daily partitions (``ALTUS_PARTITION_START``)."""
    return os.environ.get("ALTUS_PARTITION_START", "2021-01-01")


def legal_workbook() -> str:
    """The legal team's workbook the ``legal_import`` asset reads when its run config names none."""
    return os.environ.get("ALTUS_LEGAL_WORKBOOK", "")


def legal_documents_dir() -> str:
    """The folder the workbook's Documents column is relative to (``ALTUS_LEGAL_DOCUMENTS_DIR``); empty: the workbook's."""
    return os.environ.get("ALTUS_LEGAL_DOCUMENTS_DIR", "")


def legal_export_path() -> str:
    """Where the ``legal_cases_export`` asset writes the cases workbook (``ALTUS_LEGAL_EXPORT_PATH``); empty: skipped."""
    return os.environ.get("ALTUS_LEGAL_EXPORT_PATH", "")


def legal_store() -> str:
    """Where legal documents are filed: ``local`` (default) or ``dropbox``."""
    return os.environ.get("ALTUS_LEGAL_STORE", "local")


def env_number(name: str, default: float, minimum: float = 0, maximum: float | None = None) -> float:
    """A numeric setting from the environment, with an error naming it when it is not a number."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r}: expected a number") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={text!r}: must be at least {minimum:g}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name}={text!r}: must be at most {maximum:g}")
    return value


RETRY_AFTER_CAP_MAX_SECONDS = 3600.0
WAIT_BUDGET_MAX_SECONDS = 4 * 3600.0


def retry_after_cap_seconds() -> float:
    """The longest ``Retry-After`` the DoorLoop client sleeps (``DOORLOOP_RETRY_AFTER_CAP_SECONDS``, default 300).

    A longer one fails the page as transient (the DLQ retries it later) instead of holding
    the run and the ``doorloop_api`` pool slot; the hard maximum is an hour, DoorLoop's
    longest window.
    """
    return env_number("DOORLOOP_RETRY_AFTER_CAP_SECONDS", 300, minimum=1, maximum=RETRY_AFTER_CAP_MAX_SECONDS)


def wait_budget_seconds() -> float:
    """Seconds one listing may sleep on 429s and retries in all (``DOORLOOP_WAIT_BUDGET_SECONDS``, default 900).

    Bounds the run however many capped waits a server asks for; at most four hours.
    """
    return env_number("DOORLOOP_WAIT_BUDGET_SECONDS", 900, minimum=1, maximum=WAIT_BUDGET_MAX_SECONDS)
