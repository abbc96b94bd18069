"""Celery task bases and helpers.

Tenant tasks take ``utility_id`` as a keyword argument and run inside that utility's scope;
calling one without it raises before any query runs. Platform tasks run with no scope, so a
tenant-owned query inside one fails closed; they fan out per utility instead.
"""

from __future__ import annotations

from celery import Task
from celery.signals import before_task_publish
from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from portal.request_context import get_request_id, reset_request_id, set_request_id

REQUEST_ID_HEADER = "portal_request_id"


class MissingTenant(Exception):
    """A tenant task was called without ``utility_id``."""


@before_task_publish.connect
def _carry_request_id(headers=None, **_):
    # The request that enqueued a task is the request its audit rows belong to.
    if headers is not None and get_request_id():
        headers.setdefault(REQUEST_ID_HEADER, get_request_id())


class _RequestIdMixin:
    def _request_id(self) -> str:
        return getattr(self.request, REQUEST_ID_HEADER, None) or self.request.id or ""


class PlatformTask(_RequestIdMixin, Task):
    abstract = True

    def __call__(self, *args, **kwargs):
        token = set_request_id(self._request_id())
        try:
            return super().__call__(*args, **kwargs)
        finally:
            reset_request_id(token)


class TenantTask(_RequestIdMixin, Task):
    abstract = True

    def __call__(self, *args, **kwargs):
        from portal.models import Utility

        utility_id = kwargs.get("utility_id")
        if utility_id is None:
            raise MissingTenant(
                f"Task {self.name} needs utility_id=… to run inside a tenant scope."
            )
        utility = Utility.objects.get(pk=utility_id)
        token = set_request_id(self._request_id())
        try:
            with scope(utility=utility.pk), timezone.override(utility.tzinfo):
                return super().__call__(*args, **kwargs)
        finally:
            reset_request_id(token)


def enqueue_on_commit(task: Task, **kwargs) -> None:
    """Send a task once the surrounding transaction commits, so workers never see rows that
    might still roll back."""
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs))
