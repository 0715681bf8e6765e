"""Which database the warehouse is, and connections scoped to its schema.

Every connection sets ``search_path`` to the warehouse schema, so SQL files name their
objects without a schema and the schema stays configurable (``ALTUS_SCHEMA``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from altus_pipeline import settings
from altus_pipeline.warehouse import embedded

EMBEDDED_DATABASE = "altus"


@dataclass(frozen=True)
class Warehouse:
    """A PostgreSQL database URL plus the schema that holds every warehouse object."""

    url: str
    schema: str

    @classmethod
    def from_env(cls) -> Warehouse:
        """``ALTUS_DATABASE_URL`` when set, else the embedded server (started if needed).

        The schema is checked first: a setting refused is refused before a server starts.
        """
        schema = settings.warehouse_schema()
        url = settings.database_url_override()
        if url is None:
            pinned = settings.instance_pinned_home()
            if pinned is not None:
                settings.require_home(pinned, f"the Dagster instance in {os.environ['DAGSTER_HOME']}")
            server = embedded.ensure_server(settings.project_home() / "pgdata")
            url = embedded.create_database(server, EMBEDDED_DATABASE)
        return cls(url=url, schema=schema)

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection whose ``search_path`` is the warehouse schema (``migrate`` creates it)."""
        with psycopg.connect(self.url, autocommit=autocommit) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            if not autocommit:
                conn.commit()
            yield conn

    def masked_url(self) -> str:
        return mask_url(self.url)

    def dagster_storage_url(self, schema: str = "dagster") -> str:
        """The same database for Dagster's own storage, in its own schema, via psycopg2.

        SQLAlchemy 2.1 maps bare ``postgresql://`` to psycopg 3, which dagster-postgres
        does not ship, hence the explicit ``+psycopg2`` driver. Dagster writes an event per
        partition of a ranged run, each its own commit; ``synchronous_commit=off`` stops
        each from waiting on a disk flush (a crash can lose the last few events, never
        corrupt them).
        """
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
        query.append(("options", f"-csearch_path={schema} -csynchronous_commit=off"))
        scheme = "postgresql+psycopg2"
        return urlunsplit(parts._replace(scheme=scheme, query=urlencode(query)))


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for logs and the UI."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
