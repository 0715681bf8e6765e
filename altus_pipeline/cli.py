"""The ``altus`` command line, for people who script the pipeline."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import click

from altus_pipeline.sandbox.faults import FaultSpec
from altus_pipeline.sandbox.shapes import AS_GENERATED, REFERENCE_SHAPES

if TYPE_CHECKING:
    from altus_pipeline.runner import RunSummary


class _Altus(click.Group):
    """The command group: a failure a user can fix ends in one line (``cli_errors``), not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            from altus_pipeline.cli_errors import explain

            line = None if ctx.meta.get(VERBOSE) else explain(exc)
            if line is None:
                raise
            raise click.ClickException(line) from None


VERBOSE = "altus.verbose"


@click.group(cls=_Altus, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Show Dagster's run log and full tracebacks.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Altus Pipeline: keep a PostgreSQL warehouse in step with DoorLoop."""
    ctx.meta[VERBOSE] = verbose
    os.environ.setdefault("ALTUS_CONSOLE_LOG_LEVEL", "DEBUG" if verbose else "CRITICAL")
    if not verbose:  # Dagster's storage retries warn per attempt; the one line at the end says what happened
        logging.getLogger().setLevel(logging.ERROR)
        logging.raiseExceptions = False  # a log write failing on a lost database is not a second traceback


# -- database -------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The warehouse database (embedded PostgreSQL unless ALTUS_DATABASE_URL is set)."""


@db.command("migrate")
def db_migrate() -> None:
    """Create or update every warehouse object from sql/ (idempotent) and write the Dagster instance's settings."""
    from altus_pipeline.instance import prepare_dagster_home
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    applied = migrate(warehouse)
    click.echo(f"schema {warehouse.schema}: {len(applied)} object(s) applied" + (": " + ", ".join(applied) if applied else ""))
    click.echo(f"Dagster instance: DAGSTER_HOME={prepare_dagster_home(warehouse)}")


@db.command("url")
def db_url() -> None:
    """Print the warehouse URL with the password masked."""
    from altus_pipeline.warehouse.db import Warehouse

    click.echo(Warehouse.from_env().masked_url())


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (it otherwise keeps running for later commands)."""
    from altus_pipeline import settings
    from altus_pipeline.warehouse.embedded import stop_server

    stopped = stop_server(settings.project_home() / "pgdata")
    click.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@db.command("grant-reader")
@click.argument("role")
@click.option("--schema", "reporting_schema", help="Also build this schema of security-invoker views (Supabase Data API).")
@click.option("--create", is_flag=True, help="Create ROLE (LOGIN) if it does not exist.")
@click.option("--password-env", metavar="VAR", help="With --create: set ROLE's password from environment variable VAR.")
def db_grant_reader(role: str, reporting_schema: str | None, create: bool, password_env: str | None) -> None:
    """Let ROLE read the KPI tables and get_full_* views, and nothing else (idempotent)."""
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate
    from altus_pipeline.warehouse.reader import ReaderError, grant_reader

    password = None
    if password_env is not None:
        if not create:
            raise click.UsageError("--password-env goes with --create")
        password = os.environ.get(password_env)
        if not password:
            raise click.UsageError(f"--password-env {password_env}: that environment variable is not set or empty")
    warehouse = Warehouse.from_env()
    migrate(warehouse)
    try:
        grant = grant_reader(warehouse, role, create=create, password=password, reporting_schema=reporting_schema)
    except ReaderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"role {role}{' created,' if grant.created else ''} reads {len(grant.objects)} object(s) of schema "
               f"{warehouse.schema}: {', '.join(grant.objects)}")
    if grant.reporting_schema:
        click.echo(f"schema {grant.reporting_schema}: security-invoker views of each; row-level security on "
                   f"{', '.join(grant.rls_tables)} with a read policy for {role}")


# -- sandbox --------------------------------------------------------------------------

SCALE_CHOICE = click.Choice(["small", "medium", "large"])


@main.group()
def sandbox() -> None:
    """The DoorLoop simulator on localhost."""


@sandbox.command("serve")
@click.option("--scale", type=SCALE_CHOICE, default="small", show_default=True, help="Generated dataset size.")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Serve DIR/<entity>.json instead of generated data.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--token", default="sandbox-token", show_default=True, help="The bearer token clients must send.")
@click.option("--rate-limit-per-minute", type=int, default=50, show_default=True)
@click.option("--rate-limit-per-hour", type=int, default=500, show_default=True)
@click.option("--no-rate-limit", is_flag=True, help="Turn both rate limits off (benchmarks).")
@click.option("--faults", default=None, help="Fault spec, e.g. '5xx=0.1,429=0.05,slow=0.02,truncate=0.05,drift=0.5:2'.")
@click.option("--deny", "denied", multiple=True, help="List path answering 405 METHOD_NOT_ALLOWED (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the data, the faults and mixed shapes.")
@click.option("--reference-shape", type=click.Choice(REFERENCE_SHAPES), default=AS_GENERATED, show_default=True,
              help="Serve references as stored, all in the other shape (bare id <-> {\"id\": ...}), "
                   "or a mix picked by --seed.")
@click.option("--ignore-sort", is_flag=True, help="Serve lists in stored order whatever sort_by asks (the pipeline "
                                                   "must then read master data in full).")
def sandbox_serve(
    scale: str,
    data_dir: Path | None,
    port: int,
    host: str,
    token: str,
    rate_limit_per_minute: int,
    rate_limit_per_hour: int,
    no_rate_limit: bool,
    faults: str | None,
    denied: tuple[str, ...],
    seed: int,
    reference_shape: str,
    ignore_sort: bool,
) -> None:
    """Serve the DoorLoop API on localhost until interrupted."""
    from altus_pipeline.sandbox.generator import generate_dataset
    from altus_pipeline.sandbox.server import Sandbox, SandboxConfig

    try:
        fault_spec = FaultSpec.parse(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
    config = SandboxConfig(
        token=token,
        rate_limit_per_minute=None if no_rate_limit else rate_limit_per_minute,
        rate_limit_per_hour=None if no_rate_limit else rate_limit_per_hour,
        faults=fault_spec,
        seed=seed,
        denied_paths=frozenset(denied),
        reference_shape=reference_shape,
        ignore_sort=ignore_sort,
    )
    if data_dir is not None:
        server = Sandbox.from_directory(data_dir, config)
    else:
        server = Sandbox(generate_dataset(scale, seed), config)
    click.echo(f"DoorLoop sandbox on http://{host}:{port}/api (token {token!r}); Ctrl-C stops it")
    server.serve_forever(host, port)


@sandbox.command("export")
@click.option("--scale", type=SCALE_CHOICE, default="small", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def sandbox_export(scale: str, seed: int, directory: Path) -> None:
    """Write the generated dataset as DIRECTORY/<entity>.json, one JSON array per entity."""
    from altus_pipeline.sandbox.generator import export

    directory.mkdir(parents=True, exist_ok=True)
    counts = export(directory, scale=scale, seed=seed)
    for name, count in sorted(counts.items()):
        click.echo(f"{name:28s} {count:>10,d}")


# -- pipeline -------------------------------------------------------------------------


def _entities(names: tuple[str, ...]):
    from altus_pipeline.doorloop.registry import ENTITIES, entity

    try:
        return [entity(n) for n in names] if names else list(ENTITIES.values())
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--entity") from None


def _date_range(start, end):
    """``--from``/``--to`` as dates, refused at once (with the valid bounds) outside the partitions."""
    from altus_pipeline.partitions import PartitionRangeError, check_range

    if (start is None) != (end is None):
        raise click.UsageError("--from and --to go together")
    if start is None:
        return None
    if end.date() < start.date():
        raise click.UsageError("--to is before --from")
    try:
        return check_range(start.date(), end.date())
    except PartitionRangeError as exc:
        raise click.UsageError(str(exc)) from None


def _raw_counts(warehouse) -> list[tuple[str, int, int, int]]:
    """(raw table, live rows, soft-deleted rows, rows of its normalized table) of every entity."""
    from psycopg import sql

    from altus_pipeline.doorloop.registry import ENTITIES

    rows = []
    with warehouse.connect() as conn:
        for e in ENTITIES.values():
            query = sql.SQL(
                "SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL), "
                "(SELECT count(*) FROM {}) FROM {}"
            ).format(sql.Identifier(f"normalized_{e.name}"), sql.Identifier(e.raw_table))
            live, deleted, normalized = conn.execute(query).fetchone()
            rows.append((e.raw_table, live, deleted, normalized))
    return rows


_NOTED = ("rejected", "duplicates", "warnings", "unresolved_references")


def _report(layer: str, summary: RunSummary) -> bool:
    """What a run did, the CLI's way: one line for the layer, one per asset with rejections or
    warnings, the checks that did not pass, and on failure what failed, where and what to do."""
    metas = summary.materializations.values()
    records = sum(int(m.get("rows_listed", m.get("rows_written", m.get("dagster/row_count"))) or 0) for m in metas)
    requests = sum(int(m.get("api_requests") or 0) for m in metas)
    parts = [f"{len(summary.materializations)}/{summary.selected} assets", f"{records:,d} records",
             *([f"{requests:,d} requests"] if requests else []), f"{summary.seconds:.1f} s"]
    click.echo(f"{layer}: {', '.join(parts)}")
    for key, meta in sorted(summary.materializations.items()):
        noted = [f"{k.replace('_', ' ')} {meta[k]}" for k in _NOTED if meta.get(k)]
        if noted:
            click.echo(f"  {key}: {', '.join(noted)}")
    for line in summary.check_lines():
        click.echo(f"  {line}")
    if not summary.success:
        _explain_failure(layer, summary)
    return summary.success


def _explain_failure(layer: str, summary: RunSummary) -> None:
    """Each failed step with its error's first line, the run in the UI and the next step; the
    traceback is in the run's log and behind ``--verbose``."""
    from altus_pipeline.alerts import DEFAULT_UI_URL, UI_ENV

    ui = os.environ.get(UI_ENV, "").strip().rstrip("/") or DEFAULT_UI_URL
    for step, error in sorted(summary.errors.items()) or [("run", "failed before any asset did")]:
        click.echo(f"FAILED {layer}: {step}: {error}", err=True)
    click.echo(f"run {summary.run_id}: {ui}/runs/{summary.run_id}", err=True)
    click.echo("next: `altus dlq list` shows the records set aside; the run's log is at the link above; "
               "`altus --verbose ...` prints the traceback", err=True)


def _sync(entity_names: tuple[str, ...], dates) -> bool:
    from altus_pipeline.definitions import defs
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.partitions import full_range
    from altus_pipeline.runner import sync_raw
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    chosen = _entities(entity_names)  # a bad --entity is a usage error (2) before anything connects
    warehouse = Warehouse.from_env()
    migrate(warehouse)
    instance = dagster_instance(warehouse)
    first, last = dates or full_range()
    layers = ([] if all(e.partitioned for e in chosen) else ["raw master data"]) + (
        [f"raw transactions {first}..{last}" + ("" if dates else " (reconcile)")]
        if any(e.partitioned for e in chosen) else [])
    summaries = sync_raw(defs, chosen, instance, dates, raise_on_error=False)
    return all([_report(layer, summary) for layer, summary in zip(layers, summaries)])


@main.command()
@click.option("--entity", "entity_names", multiple=True, help="Entity to sync (repeatable); default all.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First business date (transactions).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last business date (transactions).")
def sync(entity_names: tuple[str, ...], start, end) -> None:
    """Load DoorLoop into the raw tables through the Dagster Definitions.

    Without --from/--to the transactions are reconciled: every partition, each entity listed
    once without a date filter; a record without a usable business date goes to the DLQ.
    """
    if not _sync(entity_names, _date_range(start, end)):
        raise SystemExit(1)


@main.command()
def doctor() -> None:
    """Check DoorLoop, the token, the warehouse, the rate budget and Dagster home before a first sync."""
    from altus_pipeline.doctor import run

    if not run(click.echo):
        raise SystemExit(1)


def _normalize(entity_names: tuple[str, ...]) -> bool:
    from altus_pipeline.definitions import defs
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.runner import normalize
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    migrate(warehouse)
    return _report("normalized", normalize(defs, dagster_instance(warehouse), entity_names, raise_on_error=False))


@main.command("normalize")
@click.option("--entity", "entity_names", multiple=True,
              help="Entity whose normalized tables to build (repeatable; 'work_orders' too); default all.")
def normalize_command(entity_names: tuple[str, ...]) -> None:
    """Build the normalized tables from the raw tables through the Dagster Definitions."""
    from altus_pipeline.normalized.spec import tables_for

    try:
        tables_for(list(entity_names))
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--entity") from None
    if not _normalize(entity_names):
        raise SystemExit(1)


def _kpis(dates) -> bool:
    import datetime as dt

    from altus_pipeline.definitions import defs
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.partitions import full_range
    from altus_pipeline.runner import kpis
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    if dates is None:  # the last 30 days up to today's partition
        last = full_range()[1]
        dates = (max(full_range()[0], last - dt.timedelta(days=29)), last)
    warehouse = Warehouse.from_env()
    migrate(warehouse)
    return _report(f"kpis {dates[0]}..{dates[1]}", kpis(defs, dagster_instance(warehouse), dates, raise_on_error=False))


def _stale_kpis() -> bool:
    from altus_pipeline.definitions import defs
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.kpi.recompute import recompute_stale
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    migrate(warehouse)
    with warehouse.connect() as conn:
        summary = recompute_stale(defs, dagster_instance(warehouse), conn)
    if summary is None:
        click.echo("kpi_daily_snapshot: nothing stale (no raw change since the KPI runs that cover it)")
        return True
    meta = summary.materializations.get("kpi_daily_snapshot", {})
    return _report(f"kpis {meta.get('first_date', '?')}..{meta.get('last_date', '?')} (stale, views refreshed)", summary)


@main.command("kpis")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First as-of date (default: 30 days ago).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last as-of date (default: today).")
@click.option("--stale", is_flag=True, help="Recompute the dates raw changes made stale (from the earliest changed "
                                            "business date to today), with normalized first and the views after.")
def kpis_command(start, end, stale: bool) -> None:
    """Compute kpi_daily_snapshot for a range of as-of dates in one run (one set-based statement)."""
    if stale and (start or end):
        raise click.UsageError("--stale computes its own range: give it without --from/--to")
    if not (_stale_kpis() if stale else _kpis(_date_range(start, end))):
        raise SystemExit(1)


def _refresh_views() -> bool:
    from altus_pipeline.definitions import defs
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.runner import refresh_views
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    migrate(warehouse)
    return _report("views", refresh_views(defs, dagster_instance(warehouse), raise_on_error=False))


@main.group()
def views() -> None:
    """The reporting materialized views get_full_*."""


@views.command("refresh")
def views_refresh() -> None:
    """Refresh kpi_summary's views and every get_full_* view (CONCURRENTLY once populated)."""
    if not _refresh_views():
        raise SystemExit(1)


@main.group()
def legal() -> None:
    """The legal-case module: the legal team's workbook, cases and phase history."""


@legal.command("import")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--documents-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder the Documents column is relative to (default: ALTUS_LEGAL_DOCUMENTS_DIR, else the "
                   "workbook's folder).")
def legal_import_command(workbook: Path, documents_dir: Path | None) -> None:
    """Import WORKBOOK (.xlsx, sheet Cases) into staging, legal_cases and the phase history."""
    from altus_pipeline.assets.legal import failure_reason
    from altus_pipeline.definitions import defs
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.runner import legal_import
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    migrate(warehouse)
    instance = dagster_instance(warehouse)
    summary = legal_import(defs, instance, str(workbook.resolve()), raise_on_error=False, quiet=True,
                           documents_dir=str(documents_dir.resolve()) if documents_dir else None)
    if not summary.materializations:  # nothing imported: one line saying why, the details in the run's log
        raise click.ClickException(f"{failure_reason(instance, summary.run_id)} (run {summary.run_id})")
    meta = summary.materializations.get("legal_cases", {})
    click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in meta.items() if k != "workbook"))
    with warehouse.connect() as conn:
        errors = conn.execute(
            "SELECT e ->> 'message' FROM legal_case_import_staging, jsonb_array_elements(errors) e "
            "WHERE workbook_path = %s AND status = 'error' ORDER BY row_number", (str(workbook.resolve()),)).fetchall()
    for (message,) in errors:
        click.echo(f"row error: {message}")
    for line in summary.check_lines():
        click.echo(line)
    click.echo(f"run {summary.run_id}: {'success' if summary.success else 'FAILED'}")
    if not summary.success:
        raise SystemExit(1)


@legal.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def legal_export_command(path: Path) -> None:
    """Write every legal case to PATH (.xlsx), one sheet per status: the workbook's columns plus
    phase history, days in phase, balance, billed/paid/outstanding and document links.

    Refreshes get_full_legal_cases first, in the same run (shown in the UI)."""
    from altus_pipeline.assets.legal import failure_reason
    from altus_pipeline.assets.legal_export import LEGAL_EXPORT
    from altus_pipeline.definitions import defs
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.legal.export import VIEW
    from altus_pipeline.runner import run_job
    from altus_pipeline.sensors.launch import ASSET_JOB
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    if path.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{path.name}: the export is an .xlsx workbook; name it so")
    warehouse = Warehouse.from_env()
    migrate(warehouse)
    instance = dagster_instance(warehouse)
    present = {s.key.to_user_string() for s in defs.resolve_all_asset_specs()}
    keys = [k for k in (VIEW, LEGAL_EXPORT) if k in present]
    config = {"ops": {LEGAL_EXPORT: {"config": {"path": str(path.resolve())}}}}
    summary = run_job(defs, ASSET_JOB, keys, instance, raise_on_error=False, run_config=config)
    meta = summary.materializations.get(LEGAL_EXPORT)
    if meta is None:
        raise click.ClickException(f"{failure_reason(instance, summary.run_id)} (run {summary.run_id})")
    sheets = ", ".join(f"{k.removeprefix('sheet ')} {v}" for k, v in meta.items() if k.startswith("sheet "))
    click.echo(f"wrote {path}: " + (f"{meta['cases']} case(s) ({sheets})" if meta["cases"] else "no legal case yet"))


@legal.command("template")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def legal_template_command(path: Path) -> None:
    """Write an empty legal workbook to PATH (.xlsx): sheets Cases and Bills with the columns the
    import reads, and a drop-down of the phases."""
    from altus_pipeline.legal.template import write_template

    if path.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{path.name}: the template is an .xlsx workbook; name it so")
    click.echo(f"wrote {write_template(path)}")


_SUMMARY_COLUMNS = (("property_name", "property", 24), ("units_total", "units", 6), ("units_occupied", "occ", 6),
                    ("physical_occupancy", "occ %", 7), ("scheduled_rent", "sched rent", 12),
                    ("delinquent_balance", "delinquent", 12), ("aging_90_plus", "aged 90+", 11),
                    ("collection_rate_mtd", "coll mtd", 9), ("leases_expiring_30", "exp30", 6),
                    ("work_orders_open", "WO open", 8))


def _print_kpi_summary(warehouse) -> None:
    """kpi_summary as a readable table: the portfolio first, then properties by name."""
    cols = ", ".join(c for c, _, _ in _SUMMARY_COLUMNS)
    with warehouse.connect() as conn:
        rows = conn.execute(f"SELECT as_of_date, {cols} FROM kpi_summary "
                            "ORDER BY scope = 'property', property_name").fetchall()
    if not rows:
        click.echo("kpi_summary is empty")
        return
    click.echo(f"\nkpi_summary as of {rows[0][0]}:")
    click.echo(" ".join(f"{h:>{w}s}" if i else f"{h:{w}s}" for i, (_, h, w) in enumerate(_SUMMARY_COLUMNS)))
    for row in rows:
        cells = []
        for i, ((name, _, width), value) in enumerate(zip(_SUMMARY_COLUMNS, row[1:])):
            if value is None:
                text = "-"
            elif name in ("physical_occupancy", "collection_rate_mtd"):
                text = f"{value * 100:.1f}%"
            elif name in ("scheduled_rent", "delinquent_balance", "aging_90_plus"):
                text = f"{value:,.2f}"
            else:
                text = str(value)
            cells.append(f"{text[:width]:{width}s}" if i == 0 else f"{text:>{width}s}")
        click.echo(" ".join(cells))


@contextmanager
def _local_sandbox(scale: str) -> Iterator[None]:
    """Serve a generated account on localhost and point this process's DoorLoop settings at it.

    Partitions start where the generated history does: Dagster records every partition
    of a ranged run, so years of empty partitions would only cost time. The partitions
    definition is built when ``altus_pipeline.partitions`` is first imported, so this must
    run before anything imports it.
    """
    import sys

    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES, generate_dataset
    from altus_pipeline.sandbox.server import Sandbox, SandboxConfig

    first_day = DEFAULT_AS_OF.replace(year=DEFAULT_AS_OF.year - SCALES[scale].years, day=1)
    if "ALTUS_PARTITION_START" not in os.environ and "altus_pipeline.partitions" in sys.modules:
        raise RuntimeError("altus_pipeline.partitions was imported before the sandbox set ALTUS_PARTITION_START")
    os.environ.setdefault("ALTUS_PARTITION_START", first_day.isoformat())
    click.echo(f"generating the {scale} DoorLoop dataset and starting the sandbox ...")
    config = SandboxConfig(token="sandbox-token", rate_limit_per_minute=None, rate_limit_per_hour=None)
    with Sandbox(generate_dataset(scale), config) as server:
        os.environ["DOORLOOP_BASE_URL"] = server.base_url
        os.environ["DOORLOOP_API_TOKEN"] = config.token
        os.environ.setdefault("DOORLOOP_RATE_LIMIT_PER_MINUTE", "off")
        os.environ.setdefault("DOORLOOP_RATE_LIMIT_PER_HOUR", "off")
        click.echo(f"sandbox serving at {server.base_url}")
        yield


@main.command()
@click.option("--scale", type=SCALE_CHOICE, default="small", show_default=True)
def demo(scale: str) -> None:
    """Start the embedded PostgreSQL and a sandbox, run the pipeline, print a summary."""
    import datetime as dt

    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF
    from altus_pipeline.warehouse.db import Warehouse

    with _local_sandbox(scale):
        ok = _sync((), None)
    from altus_pipeline.partitions import full_range  # after the sandbox set the partition start

    ok = _normalize(()) and ok
    # The generated history ends on DEFAULT_AS_OF, the 1st of a month: KPIs from that day on
    # would show a month of rent charged and hardly anyone having paid yet.
    first, today = full_range()
    last = min(today, DEFAULT_AS_OF - dt.timedelta(days=1))
    ok = _kpis((max(first, last - dt.timedelta(days=59)), last)) and ok
    warehouse = Warehouse.from_env()
    legal = _legal_demo(warehouse, last)  # before the views: get_full_legal_cases shows the cases
    ok = _refresh_views() and ok
    click.echo(f"\nraw and normalized tables in {warehouse.masked_url()} schema {warehouse.schema}:")
    click.echo(f"{'raw table':36s} {'live':>10s} {'deleted':>8s} {'normalized':>11s}")
    for table, live, deleted, normalized in _raw_counts(warehouse):
        click.echo(f"{table:36s} {live:>10,d} {deleted:>8,d} {normalized:>11,d}")
    _print_kpi_summary(warehouse)
    ok = _print_legal_demo(warehouse, *legal) and ok
    if not ok:
        raise SystemExit(1)


def _legal_demo(warehouse, as_of) -> tuple[Path, RunSummary]:
    """Write the sample legal workbook and documents under the project home and import them as
    ``altus legal import`` does: one run of the legal assets, into the local document store
    whatever ALTUS_LEGAL_STORE says (a demo never files into Dropbox)."""
    from altus_pipeline import settings
    from altus_pipeline.definitions import build_definitions
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.legal.sample import write_sample
    from altus_pipeline.resources import LegalStoreResource
    from altus_pipeline.runner import legal_import

    home = settings.project_home()
    with warehouse.connect() as conn:
        workbook = write_sample(conn, home / "legal_demo", as_of)
        conn.commit()
    store = LegalStoreResource(kind="local", folder=str(home / "legal_documents"))
    return workbook, legal_import(build_definitions(legal_store=store), dagster_instance(warehouse), str(workbook),
                                  raise_on_error=False, quiet=True)


def _print_legal_demo(warehouse, workbook: Path, summary: RunSummary) -> bool:
    """The demo's legal cases by phase; False when their import failed."""
    from altus_pipeline import settings
    from altus_pipeline.legal.sample import case_phases

    click.echo(f"\nlegal cases from {workbook} (documents under {settings.project_home() / 'legal_documents'}):")
    meta = summary.materializations.get("legal_cases", {})
    click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in meta.items() if k != "workbook"))
    with warehouse.connect() as conn:
        cases = case_phases(conn)
    click.echo(f"{'case':14s} {'phase':20s} {'since':10s} {'documents':>9s}")
    for key, phase, since, documents in cases:
        click.echo(f"{key:14s} {phase:20s} {since.isoformat():10s} {documents:>9d}")
    if not summary.success:
        click.echo(f"legal import FAILED (run {summary.run_id})", err=True)
    return summary.success


@main.command()
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--scale", type=SCALE_CHOICE, default="small", show_default=True,
              help="Sandbox data when DOORLOOP_API_TOKEN is not set.")
def dev(port: int, scale: str) -> None:
    """Open the Dagster UI (dagster dev) on the same instance the CLI uses.

    Without DOORLOOP_API_TOKEN a sandbox serves generated data for the session.
    """
    import subprocess
    import sys

    from altus_pipeline import settings
    from altus_pipeline.instance import prepare_dagster_home
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    migrate(warehouse)
    home = prepare_dagster_home(warehouse)
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    # `dagster dev` is marked superseded by `dg dev` (a separate package): FutureWarning.
    # Run from DAGSTER_HOME so the repository's template dagster.yaml is not mistaken for it.
    command = [sys.executable, "-W", "ignore::FutureWarning", "-m", "dagster", "dev", "-w", str(workspace),
               "-h", "127.0.0.1", "-p", str(port)]
    with nullcontext() if settings.doorloop_token() else _local_sandbox(scale):
        raise SystemExit(subprocess.call(command, cwd=home))


# -- roadmap --------------------------------------------------------------------------


@main.command("docs")
def docs_command() -> None:
    """Regenerate docs/data_model.md from the normalized spec and the migrated warehouse's catalog."""
    from altus_pipeline.docs import DATA_MODEL, write
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate

    warehouse = Warehouse.from_env()
    migrate(warehouse)
    click.echo(f"wrote {DATA_MODEL.name}" if write(warehouse) else f"{DATA_MODEL.name} is up to date")


@main.group()
def roadmap() -> None:
    """The naming roadmap: roadmap_backend_cleanup_plan.md."""


@roadmap.command("validate")
@click.option("--no-db", is_flag=True, help="Skip the database: check sql/ and the Definitions only.")
def roadmap_validate(no_db: bool) -> None:
    """Hold sql/, the Definitions and the warehouse schema to the plan; one line per violation."""
    from altus_pipeline.definitions import defs
    from altus_pipeline.roadmap import PLAN_NAME, validate
    from altus_pipeline.warehouse.db import Warehouse

    warehouse = None if no_db else Warehouse.from_env()
    violations = validate(defs, warehouse)
    for violation in violations:
        click.echo(violation)
    if violations:
        raise SystemExit(1)
    scope = "sql/ and the Definitions" + ("" if warehouse is None else f" and schema {warehouse.schema}")
    click.echo(f"roadmap OK: {scope} follow {PLAN_NAME}")


# -- Dagster's run storage --------------------------------------------------------------


@main.group()
def runs() -> None:
    """Dagster's runs, stored in the warehouse database (schema dagster)."""


@runs.command("prune")
@click.option("--keep-days", type=click.IntRange(min=1),
              help="Keep finished runs younger than this (default: ALTUS_RUN_RETENTION_DAYS, else 7); "
                   "older ones go unless still the latest of something.")
def runs_prune(keep_days: int | None) -> None:
    """Delete old finished runs with their events and check executions (Dagster OSS never does)."""
    from altus_pipeline.instance import dagster_instance
    from altus_pipeline.retention import prune_runs, retention_days
    from altus_pipeline.warehouse.db import Warehouse

    keep_days = keep_days or retention_days()
    result = prune_runs(dagster_instance(Warehouse.from_env()), keep_days)
    click.echo(f"deleted {result.runs_deleted} run(s) older than {keep_days} days; kept {result.runs_kept} "
               f"that still hold the latest materialization or check; removed {result.stale_check_rows_deleted} "
               "stale per-partition check row(s)")


# -- dead-letter queue (altus_pipeline/dlq_commands.py) ---------------------------------

from altus_pipeline.dlq_commands import dlq  # noqa: E402

main.add_command(dlq)
