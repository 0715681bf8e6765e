"""Dagster resources: the warehouse, DoorLoop and the legal document store.

The Definitions give DoorLoop's token as ``dg.EnvVar("DOORLOOP_API_TOKEN")``: the UI's
resource page names the variable, never its value, and Dagster refuses a run that needs it
while it is unset. Other fields left unset fall back to the environment at run time (the
database URL is optional: without it the embedded server is used), so no password or token is
ever part of the run config shown in the UI.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from altus_pipeline import settings
from altus_pipeline.doorloop.client import Backoff, DoorLoopClient
from altus_pipeline.doorloop.ratelimit import Limits
from altus_pipeline.doorloop.shared_budget import PostgresRateBudget, budget_key
from altus_pipeline.legal.documents import DocumentStore, DropboxAuth, open_store
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import migrate_once


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse; migrated to the current ``sql/`` once per process."""

    database_url: str | None = None
    schema_name: str | None = None

    def warehouse(self) -> Warehouse:
        base = (
            Warehouse.from_env()
            if self.database_url is None
            else Warehouse(self.database_url, settings.warehouse_schema())
        )
        warehouse = Warehouse(base.url, self.schema_name or base.schema)
        migrate_once(warehouse)
        return warehouse


class DoorLoopResource(dg.ConfigurableResource):
    """DoorLoop (or the sandbox): where, with which token, under which rate budget."""

    base_url: str | None = None
    token: str | None = None
    # None: from the environment (default 50 and 500); 0 lifts the limit (sandbox only).
    rate_limit_per_minute: int | None = None
    rate_limit_per_hour: int | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_base_seconds: float = 0.5

    def limits(self) -> Limits:
        def limit(value: int | None, name: str, default: int) -> int | None:
            return settings.rate_limit(name, default) if value is None else (value or None)

        return Limits(
            per_minute=limit(self.rate_limit_per_minute, "minute", 50),
            per_hour=limit(self.rate_limit_per_hour, "hour", 500),
            minute_seconds=settings.rate_window_seconds(),
        )

    def client(self, warehouse: Warehouse) -> DoorLoopClient:
        """A client whose rate budget is shared through the warehouse with every other run."""
        base_url = (self.base_url or settings.doorloop_base_url()).rstrip("/")
        token = self.token or settings.doorloop_token()
        if not token:
            raise dg.Failure("DOORLOOP_API_TOKEN is not set: the DoorLoop API needs a token", allow_retries=False)
        budget = PostgresRateBudget(
            warehouse, budget_key(base_url, token), self.limits(), in_flight_seconds=self.timeout_seconds
        )
        retry = Backoff(max_retries=self.max_retries, base_seconds=self.backoff_base_seconds)
        return DoorLoopClient(base_url, token, budget=budget, retry=retry, timeout=self.timeout_seconds)


class LegalStoreResource(dg.ConfigurableResource):
    """Where the legal import files case documents: a local folder or Dropbox.

    The Dropbox credentials are never config: the fields name the environment variables
    that hold them, so the UI shows which variable feeds what and never a value.
    """

    kind: str | None = Field(default=None, description="local or dropbox; unset: ALTUS_LEGAL_STORE, else local")
    folder: str | None = Field(
        default=None, description="the local store's folder; unset: <ALTUS_HOME>/legal_documents"
    )
    access_token_env: str = Field(
        default="DROPBOX_ACCESS_TOKEN", description="the variable holding a Dropbox access token"
    )
    refresh_token_env: str = Field(
        default="DROPBOX_REFRESH_TOKEN", description="the variable holding a Dropbox refresh token (with the app key)"
    )
    app_key_env: str = Field(default="DROPBOX_APP_KEY", description="the variable holding the Dropbox app key")
    app_secret_env: str = Field(
        default="DROPBOX_APP_SECRET", description="the variable holding the Dropbox app secret, for an app that has one"
    )
    ca_certs: str | None = Field(
        default=None, description="a PEM bundle of the CAs to trust for Dropbox; unset: ALTUS_DROPBOX_CA_CERTS"
    )
    max_retries_on_error: int = Field(
        default=3, ge=0, le=10, description="retries of a Dropbox call answered with a server error"
    )

    def store(self) -> DocumentStore:
        auth = DropboxAuth(self.access_token_env, self.refresh_token_env, self.app_key_env, self.app_secret_env)
        return open_store(
            self.kind or settings.legal_store(),
            Path(self.folder) if self.folder else None,
            auth,
            self.ca_certs,
            self.max_retries_on_error,
        )
