"""Materializing through the ``Definitions`` from scripts (the CLI, the demo, benchmarks).

Runs go to the given Dagster instance, so they show in the UI like any other run. A
date range becomes one single-run backfill: one filtered listing per entity; no range is
the reconcile over every partition: one unfiltered listing per entity.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field

import dagster as dg
import psutil

from altus_pipeline.assets.legal import LEGAL_KEYS
from altus_pipeline.definitions import (
    KPI_JOB,
    LEGAL_JOB,
    NORMALIZED_JOB,
    RAW_MASTER_JOB,
    RAW_TRANSACTIONS_JOB,
    VIEWS_JOB,
)
from altus_pipeline.doorloop.registry import Entity, derived_from
from altus_pipeline.legal.runs import import_config
from altus_pipeline.partitions import UNFILTERED_TAG, range_tags, reconcile_tags

PID_TAG = "altus/pid"
HOST_TAG = "altus/host"


@dataclass(frozen=True)
class RunSummary:
    """What a run materialized and how its checks ended.

    ``checks`` maps ``asset:check`` to False only for a failed ERROR-severity check;
    a failed WARN-severity check (the data loaded, something waits) is True there and
    listed, with its metadata, in ``warnings``. ``errors`` maps each failed step to the
    first line of its error, so a caller can say what failed without the traceback.
    """

    run_id: str
    success: bool
    materializations: dict[str, dict]
    checks: dict[str, bool]
    warnings: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    selected: int = 0
    seconds: float = 0.0

    def check_lines(self) -> list[str]:
        """One line per failed check and per warning, for the CLI."""
        return [f"check failed: {k}" for k, ok in sorted(self.checks.items()) if not ok] + [
            f"check warning: {k} {meta}" for k, meta in sorted(self.warnings.items())
        ]


def run_job(
    defs: dg.Definitions,
    job_name: str,
    keys: Iterable[str],
    instance: dg.DagsterInstance,
    tags: dict[str, str] | None = None,
    raise_on_error: bool = True,
    run_config: dict | None = None,
) -> RunSummary:
    """Execute ``job_name`` for the selected asset keys in this process."""
    fail_dead_runs(instance)
    job = defs.resolve_job_def(job_name)
    owner = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    selection = [dg.AssetKey(k) for k in keys]
    clock = time.monotonic()
    with _quiet_stderr():
        result = job.execute_in_process(
            instance=instance,
            asset_selection=selection,
            tags={**(tags or {}), **owner},
            raise_on_error=raise_on_error,
            run_config=_with_console_level(run_config),
        )
    # a ranged run materializes each asset once per partition: the last one of each is kept
    latest = {event.asset_key.to_user_string(): event for event in result.get_asset_materialization_events()}
    materialized = {
        key: {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
        for key, event in latest.items()
    }
    evaluations = {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}
    warned = {k: e for k, e in evaluations.items() if not e.passed and e.severity == dg.AssetCheckSeverity.WARN}
    return RunSummary(
        run_id=result.run_id,
        success=result.success,
        materializations=materialized,
        checks={k: e.passed or k in warned for k, e in evaluations.items()},
        warnings={k: {m: v.value for m, v in e.metadata.items()} for k, e in warned.items()},
        errors={e.step_key: _first_error_line(e) for e in result.all_events if e.is_step_failure},
        selected=len(selection),
        seconds=round(time.monotonic() - clock, 1),
    )


def _first_error_line(event: dg.DagsterEvent) -> str:
    """The message a step failed with (``dg.Failure``'s description), else its error's first line."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description.strip().splitlines()[0]
    if data.error is None:
        return "failed without an error message"
    error = data.error.cause or data.error
    return (error.message.strip().splitlines() or [error.cls_name or "error"])[0]


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """With the console log off (``CRITICAL``), also drop what Dagster prints to stderr itself.

    When its storage is lost mid-run, Dagster prints the traceback of each event it could not
    record; the caller reports the failure in one line, and ``--verbose`` shows everything.
    """
    if os.environ.get("ALTUS_CONSOLE_LOG_LEVEL", "").upper() != "CRITICAL":
        yield
        return
    with open(os.devnull, "w") as sink, redirect_stderr(sink):
        yield


def _with_console_level(run_config: dict | None) -> dict | None:
    """The run config with the console log level of ``ALTUS_CONSOLE_LOG_LEVEL``, when set.

    The CLI sets ``CRITICAL`` and prints its own lines per layer from the ``RunSummary``
    (``--verbose``: ``DEBUG``, Dagster's event per partition of a ranged run, with tracebacks),
    so the run's events are said once, not twice, and a failure is not buried under them.
    A level given in ``run_config`` wins.
    """
    level = os.environ.get("ALTUS_CONSOLE_LOG_LEVEL")
    if not level or "loggers" in (run_config or {}):
        return run_config
    return {**(run_config or {}), "loggers": {"console": {"config": {"log_level": level.upper()}}}}


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs of killed ``altus`` processes on this host failed, and free their pool slots.

    A process killed mid-run (SIGKILL, OOM, a closed laptop) cannot report its own end:
    its run would stay STARTED and keep the ``doorloop_api`` pool slot forever, blocking
    every later run. Without a daemon watching, the next run cleans up after it.
    """
    host = socket.gethostname()
    records = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING], tags={HOST_TAG: host})
    )
    failed = []
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid and not _process_alive(pid):
            instance.report_run_failed(run, f"the altus process {pid} that ran it died")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            failed.append(run.run_id)
    return failed


def _process_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def sync_raw(
    defs: dg.Definitions,
    entities: Iterable[Entity],
    instance: dg.DagsterInstance,
    dates: tuple[dt.date, dt.date] | None = None,
    raise_on_error: bool = True,
) -> list[RunSummary]:
    """Materialize raw assets: master data as one run, transactions as one ranged run.

    Without ``dates`` both runs are the reconcile: master data as full snapshots (which see
    deletions; with dates it is read incrementally), transactions over every partition listed
    without a date filter, so records no date partition lists reach raw or the DLQ too.
    """
    chosen = list(entities)
    master = [e.raw_table for e in chosen if not e.partitioned] + [d.raw_table for d in derived_from(chosen)]
    transactions = [e.raw_table for e in chosen if e.partitioned]
    summaries = []
    if master:
        full = {} if dates else {UNFILTERED_TAG: "true"}
        summaries.append(run_job(defs, RAW_MASTER_JOB, master, instance, full, raise_on_error))
    if transactions:
        tags = range_tags(*dates) if dates else reconcile_tags()
        summaries.append(run_job(defs, RAW_TRANSACTIONS_JOB, transactions, instance, tags, raise_on_error))
    return summaries


def normalize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    entity_names: Iterable[str] | None = None,
    raise_on_error: bool = True,
) -> RunSummary:
    """Materialize the normalized tables fed by ``entity_names`` (all when empty), in one run."""
    from altus_pipeline.normalized.spec import tables_for

    keys = [name for table in tables_for(list(entity_names or [])) for name in table.objects]
    return run_job(defs, NORMALIZED_JOB, keys, instance, raise_on_error=raise_on_error)


def kpis(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    dates: tuple[dt.date, dt.date],
    raise_on_error: bool = True,
) -> RunSummary:
    """Materialize ``kpi_daily_snapshot`` for a date range as one single-run backfill."""
    from altus_pipeline.assets.kpis import SNAPSHOT

    start, end = dates
    return run_job(defs, KPI_JOB, [SNAPSHOT], instance, range_tags(start, end), raise_on_error)


def refresh_views(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    names: Iterable[str] | None = None,
    raise_on_error: bool = True,
) -> RunSummary:
    """Materialize ``kpi_summary`` and the reporting views (all when ``names`` is empty), in one run."""
    from altus_pipeline.assets.kpis import SUMMARY
    from altus_pipeline.assets.views import VIEW_KEYS

    keys = list(names or [SUMMARY, *VIEW_KEYS])
    return run_job(defs, VIEWS_JOB, keys, instance, raise_on_error=raise_on_error)


def legal_import(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    workbook: str,
    raise_on_error: bool = True,
    quiet: bool = False,
    documents_dir: str | None = None,
) -> RunSummary:
    """Import a legal workbook into staging, cases and phase history, as one run.

    ``documents_dir`` is the folder its Documents column is relative to (default
    ``ALTUS_LEGAL_DOCUMENTS_DIR``, else the workbook's). ``quiet`` keeps the run's events off
    the console (they are still stored for the UI), for a caller that reports the outcome
    itself in a few lines."""
    config: dict = import_config(workbook, documents_dir)
    if quiet:
        config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    return run_job(defs, LEGAL_JOB, LEGAL_KEYS, instance, raise_on_error=raise_on_error, run_config=config)
