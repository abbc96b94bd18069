"""Celery tasks that send commands through partner adapters."""
