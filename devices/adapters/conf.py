"""The adapters' settings, read with defaults (``portal/settings/`` need not name them)
and checked, so a bad value stops the worker loudly instead of changing behaviour quietly.

* ``ADAPTER_ALLOWED_HOSTS`` — the only hosts the portal calls (partner webhooks, grid-signal
  sources): ``host`` or ``host:*`` (any port), or ``host:port``. Nothing else is reachable,
  loopback and private addresses included, so a saved URL cannot point the portal at its
  own database or broker (SSRF). Default: none in production; the demo's own simulator and
  VTN in development (``portal/settings/``).
* ``ADAPTER_BLOCKED_PORTS`` — ports never called, even on an allowed ``host:*`` (databases,
  brokers, caches, mail, SSH); only an entry naming exactly ``host:port`` opens one.
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


# Where a forged URL does harm: SSH, mail, PostgreSQL, MySQL, Redis, RabbitMQ (AMQP and its
# management UI), memcached, Elasticsearch, etcd, the Docker API, MongoDB, MQTT, NATS.
DEFAULT_BLOCKED_PORTS = (22, 25, 5432, 3306, 6379, 5672, 15672, 11211, 9200, 2379, 2375, 27017,
                         1883, 4222)  # fmt: skip


def allowed_hosts() -> frozenset[tuple[str, str]]:
    """(host, port) pairs; port is "*" for any port."""
    value = getattr(settings, "ADAPTER_ALLOWED_HOSTS", ())
    if isinstance(value, str) or not all(isinstance(host, str) for host in value):
        raise ImproperlyConfigured("settings.ADAPTER_ALLOWED_HOSTS must be a list of host names.")
    entries = set()
    for raw in value:
        entry = raw.strip().lower()
        if not entry:
            continue
        host, _, port = entry.rpartition(":") if _has_port(entry) else (entry, "", "*")
        host = host.strip("[]").rstrip(".")
        if not host or not (port == "*" or port.isdigit()):
            raise ImproperlyConfigured(
                f"settings.ADAPTER_ALLOWED_HOSTS entry {raw!r} must be host, host:port or host:*."
            )
        entries.add((host, port if port == "*" else str(int(port))))
    return frozenset(entries)


def _has_port(entry: str) -> bool:
    # "host:8100", "host:*", "[::1]:8100"; a bare IPv6 address has colons but no port.
    if entry.startswith("["):
        return "]:" in entry
    return entry.count(":") == 1


def blocked_ports() -> frozenset[int]:
    value = getattr(settings, "ADAPTER_BLOCKED_PORTS", DEFAULT_BLOCKED_PORTS)
    if isinstance(value, str) or not all(isinstance(p, int) and 0 < p < 65536 for p in value):
        raise ImproperlyConfigured("settings.ADAPTER_BLOCKED_PORTS must be a list of ports.")
    return frozenset(value)


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
