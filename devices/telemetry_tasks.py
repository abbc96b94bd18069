"""Celery tasks for telemetry upkeep (rollups, retention)."""
