"""What the CLI says when a command cannot go on: one line a person can act on.

A failure from deep inside Dagster, psycopg or requests is a traceback of hundreds of lines
whose last line rarely says what to do. Each kind a user can meet is named here once, as
what failed, the likely cause and what to do; ``altus --verbose`` shows the traceback instead.
Nothing here prints a secret: database URLs are masked, DoorLoop errors never carry the token.
"""

from __future__ import annotations

import re

import psycopg

from altus_pipeline.doorloop.errors import DoorLoopError
from altus_pipeline.settings import TOKEN_VARIABLE, ConfigurationError
from altus_pipeline.warehouse.db import mask_url

_URL = re.compile(r"postgres(?:ql)?(?:\+\w+)?://\S+")
# Dagster's refusal to start a run whose resource reads an unset dg.EnvVar.
_UNSET_VARIABLE = re.compile(r'environment variable "(\w+)" which is not set')


def _first_line(exc: BaseException) -> str:
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return _URL.sub(lambda m: mask_url(m.group(0)), text)


def _database_error(exc: BaseException) -> BaseException | None:
    """The psycopg or SQLAlchemy connection error behind ``exc`` (raised or chained), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return exc
        if type(exc).__module__.startswith(("sqlalchemy", "psycopg2")) and "OperationalError" in type(exc).__name__:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def explain(exc: BaseException) -> str | None:
    """One line for a failure a user can fix, or None for a bug (which keeps its traceback)."""
    if isinstance(exc, ConfigurationError):
        return str(exc)
    database = _database_error(exc)
    if database is not None:
        return (
            f"the warehouse database stopped answering or cannot be reached ({_first_line(database)}); "
            "check that it is running and that ALTUS_DATABASE_URL is right (`altus db url` shows which "
            "database this is; without ALTUS_DATABASE_URL any altus command starts the embedded one), "
            "then run the command again: what was committed is kept, the rest is redone"
        )
    unset = _UNSET_VARIABLE.search(str(exc))
    if unset:
        hint = " (`altus doctor` checks it)" if unset.group(1) == TOKEN_VARIABLE else ""
        return f"{unset.group(1)} is not set: the run needs it{hint}; set it and run the command again"
    if isinstance(exc, DoorLoopError):
        return f"DoorLoop: {_first_line(exc)}; run `altus doctor` to check the URL and the token, then try again"
    return None
