"""The Celery application. Workers: ``celery -A portal worker``; beat: ``celery -A portal beat``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# Domains that live in a package inside another Django app (not an app of their own): Celery's
# autodiscovery looks only at ``<installed app>.tasks``, so a worker would discard their tasks
# as unregistered. tests/portal/test_task_registry.py checks that every task sent is found.
TASK_PACKAGES_INSIDE_APPS = ["enrollment.interconnection"]

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(TASK_PACKAGES_INSIDE_APPS)
