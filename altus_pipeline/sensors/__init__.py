"""Sensors: the dead-letter queue's retries and the run-failure recorder (both ship stopped)."""

from altus_pipeline.sensors.dlq import DLQ_SENSOR, build_dlq_sensor
from altus_pipeline.sensors.run_failure import RUN_FAILURE_SENSOR, dlq_run_failure_sensor

__all__ = ["DLQ_SENSOR", "RUN_FAILURE_SENSOR", "build_dlq_sensor", "dlq_run_failure_sensor", "build_sensors"]


def build_sensors(assets: list) -> list:
    """Both sensors, for the assets of the Definitions."""
    return [build_dlq_sensor(assets), dlq_run_failure_sensor]
