"""Failure budgets: count failed attempts per key in the cache and refuse further attempts
while a key has spent its budget for the current window.

Used where a failure is cheap to try and costly to allow: client authentication at the
OAuth2 token endpoint and customer lookups by account number (``portal.customers``). The
check comes *before* the expensive or sensitive work, so a refused attempt costs one cache
read. Windows are fixed (aligned to multiples of the window), which is one counter per key
and window, at the price of allowing up to twice the limit across a window boundary.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from allauth.account.adapter import get_adapter
from django.core.cache import cache
from django.core.exceptions import PermissionDenied


@dataclass(frozen=True)
class FailureBudget:
    """At most ``limit`` failures per identity within each ``window_seconds``."""

    name: str
    limit: int
    window_seconds: int

    def _window(self, now: float) -> tuple[int, int]:
        start = int(now // self.window_seconds) * self.window_seconds
        return start, start + self.window_seconds

    def _key(self, identity: str, window_start: int) -> str:
        # Hashed: identities are client ids, addresses and account numbers.
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return f"failure-budget:{self.name}:{window_start}:{digest}"

    def retry_after(self, identity: str, *, now: float | None = None) -> int | None:
        """Seconds until this identity may try again, or None while it has budget left."""
        now = time.time() if now is None else now
        start, end = self._window(now)
        if (cache.get(self._key(identity, start)) or 0) < self.limit:
            return None
        return max(math.ceil(end - now), 1)

    def spend(self, identity: str, *, now: float | None = None) -> int:
        """Count one failure; returns the failures counted in this window so far."""
        now = time.time() if now is None else now
        start, end = self._window(now)
        key = self._key(identity, start)
        timeout = max(math.ceil(end - now), 1) + 5
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=timeout)
            return 1


def client_address(request) -> str:
    """The client's IP, as allauth's login limits see it (``ALLAUTH_TRUSTED_PROXY_COUNT``)."""
    try:
        return get_adapter(request).get_client_ip(request) or "unknown"
    except PermissionDenied:  # a forwarded-for chain that does not match the proxy count
        return request.META.get("REMOTE_ADDR") or "unknown"
