"""Per-request (or per-task) context that outlives function arguments: the request id.

A contextvar so that web requests, API calls and Celery tasks all tag audit rows and log
lines with the id of the request that caused them.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id(incoming: str | None = None) -> str:
    """Keep a well-formed id from an upstream proxy; otherwise mint one."""
    if incoming and _VALID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def get_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str):
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)


class RequestIDLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record (``-`` outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_request_id() or "-"
        return True
