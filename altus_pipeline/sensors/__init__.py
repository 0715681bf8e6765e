"""Sensors: the dead-letter queue's retries, the run-failure recorder, the KPI history, the legal
workbook and the alerts (all ship stopped)."""

from altus_pipeline.sensors.alerts import ALERT_SENSORS, alert_sensors
from altus_pipeline.sensors.dlq import DLQ_SENSOR, build_dlq_sensor
from altus_pipeline.sensors.kpi_history import KPI_HISTORY_SENSOR, build_kpi_history_sensor
from altus_pipeline.sensors.legal import LEGAL_SENSOR, build_legal_sensor
from altus_pipeline.sensors.run_failure import RUN_FAILURE_SENSOR, dlq_run_failure_sensor

__all__ = [
    "ALERT_SENSORS",
    "DLQ_SENSOR",
    "KPI_HISTORY_SENSOR",
    "LEGAL_SENSOR",
    "RUN_FAILURE_SENSOR",
    "build_dlq_sensor",
    "build_kpi_history_sensor",
    "build_legal_sensor",
    "dlq_run_failure_sensor",
    "build_sensors",
]


def build_sensors(assets: list) -> list:
    """Every sensor, for the assets of the Definitions."""
    return [
        build_dlq_sensor(assets),
        dlq_run_failure_sensor,
        build_kpi_history_sensor(assets),
        build_legal_sensor(assets),
        *alert_sensors,
    ]
