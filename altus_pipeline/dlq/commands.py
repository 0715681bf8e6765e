"""``altus dlq list|retry|ignore``: the dead-letter queue from the command line."""

from __future__ import annotations

import click

from altus_pipeline.cli.session import Session
from altus_pipeline.dlq.model import STATUSES


@click.group("dlq")
def dlq() -> None:
    """The dead-letter queue (doorloop_error_records)."""


@dlq.command("list")
@click.option("--entity", help="Only this entity.")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--limit", type=int, default=100, show_default=True)
def dlq_list(entity: str | None, status: str | None, limit: int) -> None:
    """Records, most recently seen first."""
    from altus_pipeline.dlq.statements import list_records

    with Session().warehouse.connect() as conn:
        rows = list_records(conn, entity, status, limit)
    click.echo(
        f"{'id':>6s} {'entity':22s} {'stage':9s} {'class':10s} {'status':9s} {'att':>3s} "
        f"{'partition':23s} {'next retry':20s} message"
    )
    for r in rows:
        due = r["next_retry_at"].strftime("%Y-%m-%d %H:%M:%S") if r["next_retry_at"] else "-"
        click.echo(
            f"{r['id']:>6d} {r['entity']:22s} {r['stage']:9s} {r['error_class']:10s} {r['status']:9s} "
            f"{r['attempts']:>3d} {(r['partition_key'] or '-'):23s} {due:20s} {r['message'][:120]}"
        )
    click.echo(f"{len(rows)} record(s)")


@dlq.command("retry")
@click.option("--entity", help="Retry this entity's records.")
@click.option("--id", "record_id", type=int, help="Retry this record.")
@click.option(
    "--now", "run_now", is_flag=True, help="Also run the retries in this process (without a running dagster-daemon)."
)
def dlq_retry(entity: str | None, record_id: int | None, run_now: bool) -> None:
    """Make open, retrying or dead records due now: the DLQ sensor's next tick retries them.

    Permanent (401, 405) and validation failures are only retried this way or when the
    data they came from changes; transient ones are also retried on their own, with backoff.
    """
    from altus_pipeline.dlq.statements import request_retry

    session = Session()
    with session.warehouse.connect() as conn:
        count = request_retry(conn, entity, record_id)
        conn.commit()
    click.echo(f"{count} record(s) due for retry")
    if run_now and count:
        if not retry_now(session):
            raise SystemExit(1)


def retry_now(session: Session) -> bool:
    """Tick the DLQ sensor once and run what it requests, here (the daemon's job otherwise)."""
    from altus_pipeline.dlq.retries import Downstream, evaluate  # loads Dagster: only with --now
    from altus_pipeline.sensors.launch import launch

    with session.warehouse.connect() as conn:
        requests, _, _ = evaluate(conn, None, Downstream())
        conn.commit()
    ok = True
    for request in requests:
        summary = launch(session.defs, request, session.instance)
        keys = ", ".join(k.to_user_string() for k in request.asset_selection or ())
        outcome = "success" if summary.success else "FAILED"
        click.echo(f"run {summary.run_id} ({keys} {request.partition_key or ''}): {outcome}")
        ok = ok and summary.success
    return ok


@dlq.command("ignore")
@click.argument("record_id", type=int)
@click.option("--reason", required=True, help="Why the record is ignored (kept in its note).")
def dlq_ignore(record_id: int, reason: str) -> None:
    """Mark one record ignored: it is never retried again."""
    from altus_pipeline.dlq.statements import ignore

    try:
        with Session().warehouse.connect() as conn:
            done = ignore(conn, record_id, reason)
            conn.commit()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--reason") from None
    if not done:
        raise click.ClickException(f"no record {record_id} (or it is already ignored)")
    click.echo(f"record {record_id} ignored: {reason.strip()}")
