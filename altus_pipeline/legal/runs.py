"""What an automated legal run selects and its run config, for the sensor, the daily schedule
and the CLI alike: the import when a workbook is configured (``ALTUS_LEGAL_WORKBOOK``), the
export when an export path is (``ALTUS_LEGAL_EXPORT_PATH``), and ``get_full_legal_cases``
between them so the export shows what the import just wrote.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from altus_pipeline import settings
from altus_pipeline.assets.legal import LEGAL_IMPORT, LEGAL_KEYS
from altus_pipeline.assets.legal_export import LEGAL_EXPORT
from altus_pipeline.legal.export import VIEW


def configured_workbook() -> Path | None:
    """The workbook the automation watches, resolved; None when none is configured."""
    configured = settings.legal_workbook()
    return Path(configured).expanduser().resolve() if configured else None


def import_config(workbook: str, documents_dir: str | None = None) -> dict:
    """Run config of the legal import: ``workbook``, and the documents folder (default
    ``ALTUS_LEGAL_DOCUMENTS_DIR``; empty: the workbook's folder)."""
    folder = settings.legal_documents_dir() if documents_dir is None else documents_dir
    return {"ops": {LEGAL_IMPORT: {"config": {"workbook": workbook, "documents_dir": folder}}}}


def present_keys(assets: list) -> set[str]:
    return {s.key.to_user_string() for a in assets if isinstance(a, dg.AssetsDefinition) for s in a.specs}


def legal_keys(assets: list, with_import: bool) -> list[str]:
    """The legal keys one automated run materializes (those the Definitions hold): the import's
    (``with_import``), the view after it, and the export when a path is configured."""
    wanted = [
        *(LEGAL_KEYS if with_import else []),
        *([VIEW] if with_import else []),
        *([LEGAL_EXPORT] if settings.legal_export_path() else []),
    ]
    present = present_keys(assets)
    return [k for k in wanted if k in present]


def target_keys(assets: list) -> list[str]:
    """Every key an automated legal run may select (its sensor's or schedule's target)."""
    present = present_keys(assets)
    return [k for k in (*LEGAL_KEYS, VIEW, LEGAL_EXPORT) if k in present]
