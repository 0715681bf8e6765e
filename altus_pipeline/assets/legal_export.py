"""The ``legal_cases_export`` asset: the current cases written to the legal team's Excel file.

It writes ``ALTUS_LEGAL_EXPORT_PATH`` (or run config ``path``) from ``get_full_legal_cases`` and
the legal tables (``legal.export``), replacing the file in one rename. Without a path it
materializes nothing and says so in the run's log: the export is optional, the import is not.
"""

from pathlib import Path

import dagster as dg

from altus_pipeline import settings
from altus_pipeline.assets.legal import LEGAL_GROUP
from altus_pipeline.legal.export import VIEW, ExportError, export_cases
from altus_pipeline.resources import WarehouseResource

LEGAL_EXPORT = "legal_cases_export"
NOT_CONFIGURED = "no export path: set ALTUS_LEGAL_EXPORT_PATH (or run config path) to write the cases workbook"


class LegalExportConfig(dg.Config):
    path: str = ""  # an .xlsx path; empty: ALTUS_LEGAL_EXPORT_PATH


@dg.multi_asset(
    name=LEGAL_EXPORT,
    specs=[
        dg.AssetSpec(
            LEGAL_EXPORT,
            group_name=LEGAL_GROUP,
            kinds={"excel"},
            skippable=True,
            deps=[VIEW, "legal_cases", "legal_case_phase_history", "legal_case_documents"],
            description="The legal cases as the legal team sees them, one sheet per status: the workbook's columns "
            "plus phase history, days in phase, balance, billed/paid/outstanding and document links.",
        )
    ],
)
def legal_cases_export(context: dg.AssetExecutionContext, config: LegalExportConfig, warehouse: WarehouseResource):
    target = config.path or settings.legal_export_path()
    if not target:
        context.log.warning(NOT_CONFIGURED)
        return
    try:
        with warehouse.warehouse().connect() as conn:
            result = export_cases(conn, Path(target).expanduser())
    except ExportError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    yield dg.MaterializeResult(
        asset_key=LEGAL_EXPORT,
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "cases": result.cases,
            **{f"sheet {name}": count for name, count in result.sheets.items()},
        },
    )


legal_export_assets = [legal_cases_export]
