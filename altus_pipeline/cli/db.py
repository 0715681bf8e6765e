"""``altus db``: the warehouse database."""

from __future__ import annotations

import os

import click

from altus_pipeline import settings
from altus_pipeline.cli.session import Session
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.embedded import stop_server


@click.group()
def db() -> None:
    """The warehouse database (embedded PostgreSQL unless ALTUS_DATABASE_URL is set)."""


@db.command("migrate")
def db_migrate() -> None:
    """Create or update every warehouse object from sql/ (idempotent) and write the Dagster instance's settings."""
    from altus_pipeline.instance import prepare_dagster_home  # reads sql/, the specs and the instance settings
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    applied = migrate(warehouse)
    click.echo(
        f"schema {warehouse.schema}: {len(applied)} object(s) applied" + (": " + ", ".join(applied) if applied else "")
    )
    click.echo(f"Dagster instance: DAGSTER_HOME={prepare_dagster_home(warehouse)}")


@db.command("url")
def db_url() -> None:
    """Print the warehouse URL with the password masked."""
    click.echo(Warehouse.from_env().masked_url())


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (it otherwise keeps running for later commands)."""
    stopped = stop_server(settings.project_home() / "pgdata")
    click.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@db.command("grant-reader")
@click.argument("role")
@click.option(
    "--schema", "reporting_schema", help="Also build this schema of security-invoker views (Supabase Data API)."
)
@click.option("--create", is_flag=True, help="Create ROLE (LOGIN) if it does not exist.")
@click.option("--password-env", metavar="VAR", help="With --create: set ROLE's password from environment variable VAR.")
def db_grant_reader(role: str, reporting_schema: str | None, create: bool, password_env: str | None) -> None:
    """Let ROLE read the KPI tables and get_full_* views, and nothing else (idempotent)."""
    from altus_pipeline.warehouse.reader import ReaderError, grant_reader  # reads sql/: not for `altus --help`

    password = None
    if password_env is not None:
        if not create:
            raise click.UsageError("--password-env goes with --create")
        password = os.environ.get(password_env)
        if not password:
            raise click.UsageError(f"--password-env {password_env}: that environment variable is not set or empty")
    warehouse = Session().warehouse
    try:
        grant = grant_reader(warehouse, role, create=create, password=password, reporting_schema=reporting_schema)
    except ReaderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"role {role}{' created,' if grant.created else ''} reads {len(grant.objects)} object(s) of schema "
        f"{warehouse.schema}: {', '.join(grant.objects)}"
    )
    if grant.reporting_schema:
        click.echo(
            f"schema {grant.reporting_schema}: security-invoker views of each; row-level security on "
            f"{', '.join(grant.rls_tables)} with a read policy for {role}"
        )
