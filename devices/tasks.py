"""Celery tasks of the devices app (autodiscovered by name). The tasks live beside the code
they drive; importing them here registers them with the worker."""

from devices.adapters.tasks import *  # noqa: F403
from devices.telemetry_tasks import *  # noqa: F403
