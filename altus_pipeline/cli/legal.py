"""``altus legal``: the legal team's workbook, its import and export."""

from __future__ import annotations

from pathlib import Path

import click

from altus_pipeline.cli.session import Session


@click.group()
def legal() -> None:
    """The legal-case module: the legal team's workbook, cases and phase history."""


@legal.command("import")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--documents-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder the Documents column is relative to (default: ALTUS_LEGAL_DOCUMENTS_DIR, else the workbook's folder).",
)
def legal_import_command(workbook: Path, documents_dir: Path | None) -> None:
    """Import WORKBOOK (.xlsx, sheet Cases) into staging, legal_cases and the phase history."""
    from altus_pipeline.assets.legal import failure_reason  # loads Dagster
    from altus_pipeline.runner import legal_import

    session = Session()
    summary = legal_import(
        session.defs,
        session.instance,
        str(workbook.resolve()),
        raise_on_error=False,
        quiet=True,
        documents_dir=str(documents_dir.resolve()) if documents_dir else None,
    )
    if not summary.materializations:  # nothing imported: one line saying why, the details in the run's log
        raise click.ClickException(f"{failure_reason(session.instance, summary.run_id)} (run {summary.run_id})")
    meta = summary.materializations.get("legal_cases", {})
    click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in meta.items() if k != "workbook"))
    with session.warehouse.connect() as conn:
        errors = conn.execute(
            "SELECT e ->> 'message' FROM legal_case_import_staging, jsonb_array_elements(errors) e "
            "WHERE workbook_path = %s AND status = 'error' ORDER BY row_number",
            (str(workbook.resolve()),),
        ).fetchall()
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
    from altus_pipeline.assets.legal import failure_reason  # loads Dagster
    from altus_pipeline.assets.legal_export import LEGAL_EXPORT
    from altus_pipeline.legal.export import VIEW
    from altus_pipeline.runner import run_job
    from altus_pipeline.sensors.launch import ASSET_JOB

    if path.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{path.name}: the export is an .xlsx workbook; name it so")
    session = Session()
    present = {s.key.to_user_string() for s in session.defs.resolve_all_asset_specs()}
    keys = [k for k in (VIEW, LEGAL_EXPORT) if k in present]
    config = {"ops": {LEGAL_EXPORT: {"config": {"path": str(path.resolve())}}}}
    summary = run_job(session.defs, ASSET_JOB, keys, session.instance, raise_on_error=False, run_config=config)
    meta = summary.materializations.get(LEGAL_EXPORT)
    if meta is None:
        raise click.ClickException(f"{failure_reason(session.instance, summary.run_id)} (run {summary.run_id})")
    sheets = ", ".join(f"{k.removeprefix('sheet ')} {v}" for k, v in meta.items() if k.startswith("sheet "))
    click.echo(f"wrote {path}: " + (f"{meta['cases']} case(s) ({sheets})" if meta["cases"] else "no legal case yet"))


@legal.command("template")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def legal_template_command(path: Path) -> None:
    """Write an empty legal workbook to PATH (.xlsx): sheets Cases and Bills with the columns the
    import reads, and a drop-down of the phases."""
    from altus_pipeline.legal.template import write_template  # loads openpyxl

    if path.suffix.lower() != ".xlsx":
        raise click.UsageError(f"{path.name}: the template is an .xlsx workbook; name it so")
    click.echo(f"wrote {write_template(path)}")
