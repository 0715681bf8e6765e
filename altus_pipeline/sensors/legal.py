"""``legal_workbook_sensor``: the legal import runs on its own when the workbook changes, or
when rows it refused may now link.

The workbook is the one ``ALTUS_LEGAL_WORKBOOK`` names (documents relative to
``ALTUS_LEGAL_DOCUMENTS_DIR``, else its folder). Each tick hashes its content: a hash the
cursor has not seen requests one import run; the same file requests nothing. The run key is
the content hash and the count of imports the sensor requested, so the daemon never launches
one change twice, yet a workbook changed back to an earlier content is imported again.

A row refused because DoorLoop did not know its tenant, unit or lease yet can heal once the
normalized tables it links to are rebuilt: when staging holds rows in error and one of those
tables (the import's own dependencies) has a materialization newer than the cursor's, the
sensor requests one import too. After an import, when the Definitions hold them, the same
run refreshes ``get_full_legal_cases`` and writes the export (``ALTUS_LEGAL_EXPORT_PATH``).
Ships stopped, like the other sensors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from altus_pipeline import settings
from altus_pipeline.assets.legal import LEGAL_KEYS
from altus_pipeline.legal.importer import pending_error_rows
from altus_pipeline.legal.runs import configured_workbook, import_config, legal_keys, target_keys
from altus_pipeline.legal.workbook import MAX_FILE_BYTES
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.settings import env_number

LEGAL_SENSOR = "legal_workbook_sensor"
NO_WORKBOOK = "no legal workbook configured: set ALTUS_LEGAL_WORKBOOK to the legal team's .xlsx"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Cursor:
    """What the sensor has seen: the workbook's content hash, the newest materialization of the
    tables the import links to (event storage id), and how many imports it requested."""

    content_hash: str | None = None
    links_storage_id: int = 0
    requested: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def link_keys(assets: list) -> list[dg.AssetKey]:
    """The tables the import links cases to: the dependencies of its assets outside it."""
    own = {dg.AssetKey(k) for k in LEGAL_KEYS}
    return sorted(
        {
            d.asset_key
            for a in assets
            if isinstance(a, dg.AssetsDefinition)
            for s in a.specs
            if s.key in own
            for d in s.deps
            if d.asset_key not in own
        },
        key=lambda k: k.to_user_string(),
    )


def content_hash(path: Path) -> str:
    """sha256 of the file, read in chunks; refused past the import's size limit (it would refuse it too)."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name}: {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a workbook")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def latest_storage_id(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> int:
    """The newest materialization's event storage id among ``keys`` (0 when none was materialized)."""
    ids = [
        r.asset_entry.last_materialization_record.storage_id
        for r in instance.get_asset_records(keys)
        if r.asset_entry.last_materialization_record is not None
    ]
    return max(ids, default=0)


def build_legal_sensor(assets: list) -> dg.SensorDefinition:
    """The sensor over the legal assets of the Definitions."""
    links = link_keys(assets)

    @dg.sensor(
        name=LEGAL_SENSOR,
        minimum_interval_seconds=int(env_number("ALTUS_LEGAL_SENSOR_INTERVAL_SECONDS", 60, minimum=1)),
        default_status=dg.DefaultSensorStatus.STOPPED,
        target=dg.AssetSelection.assets(*target_keys(assets)),
        description="Imports the legal workbook (ALTUS_LEGAL_WORKBOOK) once per change of its content, and "
        "again when refused rows may link after the normalized tables changed.",
    )
    def _legal_workbook_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        path = configured_workbook()
        if path is None:
            return dg.SensorResult(skip_reason=NO_WORKBOOK)
        if not path.is_file():
            return dg.SensorResult(skip_reason=f"ALTUS_LEGAL_WORKBOOK={settings.legal_workbook()}: no such file")
        try:
            digest = content_hash(path)
        except (OSError, ValueError) as exc:
            return dg.SensorResult(skip_reason=f"ALTUS_LEGAL_WORKBOOK={settings.legal_workbook()}: {exc}")
        seen = Cursor.parse(context.cursor)
        newest = latest_storage_id(context.instance, links)
        if digest != seen.content_hash:
            reason = f"{path.name} changed (sha256 {digest[:12]})"
        elif newest > seen.links_storage_id and _errors_waiting(warehouse):
            reason = "rows in error may import now: the tables the import links cases to changed"
        else:
            return dg.SensorResult(
                skip_reason=f"{path.name} unchanged (sha256 {digest[:12]}); no refused row to retry",
                cursor=Cursor(digest, newest, seen.requested).dump(),
            )
        context.log.info(f"{reason}: requesting one legal import")
        request = dg.RunRequest(
            run_key=f"legal:{digest[:16]}:{seen.requested + 1}",
            asset_selection=[dg.AssetKey(k) for k in legal_keys(assets, with_import=True)],
            run_config=import_config(str(path)),
            tags={"altus/sensor": LEGAL_SENSOR},
        )
        return dg.SensorResult(run_requests=[request], cursor=Cursor(digest, newest, seen.requested + 1).dump())

    return _legal_workbook_sensor


def _errors_waiting(warehouse: WarehouseResource) -> bool:
    with warehouse.warehouse().connect() as conn:
        return pending_error_rows(conn) > 0
