"""The adapters' settings, read with defaults (``portal/settings.py`` need not name them)
and checked, so a bad value stops the worker loudly instead of changing behaviour quietly.

* ``ADAPTER_ALLOWED_HOSTS`` — host names a webhook endpoint may name besides loopback
  (127.0.0.0/8, ::1, localhost), which is always allowed. Default: none.
* ``ADAPTER_CIRCUIT_FAILURE_THRESHOLD`` — consecutive failed calls that open a partner's
  circuit. Default 5.
* ``ADAPTER_CIRCUIT_COOL_DOWN_SECONDS`` — how long an open circuit stays open before one
  trial call (half-open). Default 60.
* ``ADAPTER_RETRY_BASE_SECONDS`` / ``ADAPTER_RETRY_MAX_SECONDS`` — exponential backoff of a
  retried delivery: base × 2^(n−1), capped, with jitter. Defaults 2 and 300.
* ``ADAPTER_IN_FLIGHT_LEASE_SECONDS`` — how long a command sent without a recorded answer
  (its worker died mid-call) waits before it is delivered again. Must exceed any call's
  timeout. Default 300.
* ``ADAPTER_DELIVERY_PARALLELISM`` — at most this many deliveries of one agreement's queue
  run at once (each claims its own chunks), so a large event keeps every worker busy.
  Default 4.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _number(name: str, default: float, *, minimum: float) -> float:
    value = getattr(settings, name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ImproperlyConfigured(f"settings.{name}={value!r} must be a number ≥ {minimum}.")
    return float(value)


def allowed_hosts() -> frozenset[str]:
    value = getattr(settings, "ADAPTER_ALLOWED_HOSTS", ())
    if isinstance(value, str) or not all(isinstance(host, str) for host in value):
        raise ImproperlyConfigured("settings.ADAPTER_ALLOWED_HOSTS must be a list of host names.")
    return frozenset(host.strip().lower().rstrip(".") for host in value if host.strip())


def circuit_failure_threshold() -> int:
    return int(_number("ADAPTER_CIRCUIT_FAILURE_THRESHOLD", 5, minimum=1))


def circuit_cool_down_seconds() -> float:
    return _number("ADAPTER_CIRCUIT_COOL_DOWN_SECONDS", 60.0, minimum=0)


def retry_base_seconds() -> float:
    return _number("ADAPTER_RETRY_BASE_SECONDS", 2.0, minimum=0)


def retry_max_seconds() -> float:
    return _number("ADAPTER_RETRY_MAX_SECONDS", 300.0, minimum=0)


def in_flight_lease() -> timedelta:
    return timedelta(seconds=_number("ADAPTER_IN_FLIGHT_LEASE_SECONDS", 300.0, minimum=1))


def delivery_parallelism() -> int:
    return int(_number("ADAPTER_DELIVERY_PARALLELISM", 4, minimum=1))
