"""The DLQ sensor: due, retryable ``doorloop_error_records`` become partitioned ``RunRequest``s.

What a tick requests is planned in ``dlq.retries``; this module makes it a sensor.
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.dlq.retries import Downstream, evaluate
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.settings import env_number

DLQ_SENSOR = "dlq_retry_sensor"


def build_dlq_sensor(assets: list) -> dg.SensorDefinition:
    downstream = Downstream.of(assets)
    keys = [e.raw_table for e in ENTITIES.values()] + list(downstream.keys)

    @dg.sensor(
        name=DLQ_SENSOR,
        minimum_interval_seconds=int(env_number("ALTUS_DLQ_SENSOR_INTERVAL_SECONDS", 60, minimum=1)),
        default_status=dg.DefaultSensorStatus.STOPPED,
        target=dg.AssetSelection.assets(*keys),
        description="Retries due dead-letter records: one run per asset partition (range), with backoff.",
    )
    def _dlq_retry_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        with warehouse.warehouse().connect() as conn:
            requests, cursor, notes = evaluate(conn, context.cursor, downstream)
            conn.commit()
        for note in notes:
            context.log.info(note)
        if not requests:
            return dg.SensorResult(skip_reason="no dead-letter record is due", cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _dlq_retry_sensor
