"""The one base of every domain error.

Services raise a subclass when they refuse an action: ``message`` is written for the person
or partner who asked (and never names another utility), ``code`` is stable (the partner API
turns it into the error shape's code), ``details`` carry machine-readable context. Pages show
the message; the API maps the code; nothing becomes a 500.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "request_failed"

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details
