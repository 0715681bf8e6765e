"""The legal import asset: the legal team's workbook into staging, cases, phase history, documents,
bills and their allocations.

One multi-asset writes the legal tables in one transaction (``legal.importer``). It reads
the workbook named by its run config, or by ``ALTUS_LEGAL_WORKBOOK``, and depends on the
normalized tables it links cases to.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from altus_pipeline import settings
from altus_pipeline.audit import record_run
from altus_pipeline.legal.documents import DocumentStoreError
from altus_pipeline.legal.importer import import_workbook
from altus_pipeline.legal.workbook import WorkbookError
from altus_pipeline.raw.load import LoadResult
from altus_pipeline.resources import LegalStoreResource, WarehouseResource

LEGAL_GROUP = "legal"
LEGAL_IMPORT = "legal_import"
LEGAL_KEYS = [
    "legal_case_import_staging",
    "legal_cases",
    "legal_case_phase_history",
    "legal_case_documents",
    "legal_case_bills",
    "legal_bill_allocations",
]
_DEPS = [
    "normalized_tenants",
    "normalized_leases",
    "normalized_lease_tenants",
    "normalized_lease_units",
    "normalized_units",
    "normalized_properties",
]
_DESCRIPTIONS = {
    "legal_case_import_staging": "Every workbook row as read, with its status and validation errors.",
    "legal_cases": "One row per legal case (Case Key), linked to tenant, lease, unit and property.",
    "legal_case_phase_history": "Every accepted phase change, append-only; skipped phases recorded.",
    "legal_case_documents": "Documents filed per case and phase (Dropbox or a local store), by content hash.",
    "legal_case_bills": "One row per invoice of sheet Bills (Invoice Number), linked to its case: billed and paid.",
    "legal_bill_allocations": "What was paid against each invoice, appended per change of its paid amount.",
}


class LegalImportConfig(dg.Config):
    workbook: str = ""  # an .xlsx path; empty: ALTUS_LEGAL_WORKBOOK
    documents_dir: str = ""  # the Documents column's folder; empty: ALTUS_LEGAL_DOCUMENTS_DIR, else the workbook's


@dg.multi_asset(
    name=LEGAL_IMPORT,
    specs=[
        dg.AssetSpec(
            key,
            group_name=LEGAL_GROUP,
            kinds={"postgres", "excel"},
            deps=_DEPS,
            description=_DESCRIPTIONS[key],
            metadata={"dagster/table_name": key},
        )
        for key in LEGAL_KEYS
    ],
)
def legal_import(
    context: dg.AssetExecutionContext,
    config: LegalImportConfig,
    warehouse: WarehouseResource,
    legal_store: LegalStoreResource,
):
    path = config.workbook or settings.legal_workbook()
    documents = config.documents_dir or settings.legal_documents_dir()
    if not path:
        raise dg.Failure("no legal workbook: give run config workbook or set ALTUS_LEGAL_WORKBOOK", allow_retries=False)
    started = datetime.now(UTC)
    try:
        with warehouse.warehouse().connect() as conn:
            result = import_workbook(
                conn, Path(path), context.run_id, legal_store.store(), Path(documents) if documents else None
            )
            cases = conn.execute("SELECT count(*) FROM legal_cases").fetchone()[0]
            record_run(
                conn,
                context.run_id,
                "legal_cases",
                started,
                cases,
                LoadResult(rows_listed=result.rows, unchanged=result.rows - result.staged, rejected=result.errors),
            )
            conn.commit()
    except WorkbookError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    except DocumentStoreError as exc:  # nothing was written (one transaction); the run may be retried
        raise dg.Failure(f"{exc}; nothing was imported") from None
    for message in result.messages:
        context.log.warning(message)
    meta = {**result.metadata(), "workbook": Path(path).name}
    for key in LEGAL_KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata=meta)


def failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a legal import run failed, in one line: the message the asset failed with, or the first
    line of an unexpected error (its traceback stays in the run's log in the UI)."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = record.dagster_event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            return data.user_failure_data.description
        if data.error is not None:
            error = data.error.cause or data.error
            return error.message.strip().splitlines()[0]
    return "the run failed before the import started; its log is in the UI (altus dev)"


legal_assets = [legal_import]
