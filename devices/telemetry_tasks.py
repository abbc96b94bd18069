"""Celery tasks for telemetry upkeep. There are none: ``devices.telemetry.ingest`` keeps the
latest states and the 15-minute rollups current in the request that stores the readings,
and retention runs as the ``purge_telemetry`` management command (schedule it per utility).
"""
