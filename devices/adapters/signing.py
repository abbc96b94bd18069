"""Signing the portal's webhook calls, and verifying them at the receiver.

``X-Portal-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`` with the unix
timestamp in ``X-Portal-Timestamp``. Signing the timestamp with the body is what makes the
replay window enforceable: an attacker cannot refresh the timestamp of a captured request.

The adapter signs with ``signed_headers``; a receiver (the fleet simulator, or a partner's
reference implementation) checks with ``verify`` and remembers what it has seen with a
``ReplayGuard``. Both sides share this module so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

TIMESTAMP_HEADER = "X-Portal-Timestamp"
SIGNATURE_HEADER = "X-Portal-Signature"
SCHEME = "v1"
REPLAY_WINDOW_SECONDS = 300


class SignatureError(Exception):
    """A request that must be refused. ``code`` is stable; receivers answer it with 401."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def signed_headers(*, secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret=secret, timestamp=timestamp, body=body),
    }


def verify(
    *,
    secrets: list[str] | tuple[str, ...],
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float | None = None,
    window_seconds: int = REPLAY_WINDOW_SECONDS,
) -> int:
    """Check a request signed by one of ``secrets``; return the index of the secret that
    signed it (a receiver serving several agreements learns which one it was).

    Timestamps more than ``window_seconds`` away from ``now`` in either direction are
    refused: an old one is a replay, a future one would stay replayable for too long.
    """
    if not timestamp_header or not signature_header:
        raise SignatureError("signature_missing", "The request is not signed.")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise SignatureError(
            "timestamp_invalid", "X-Portal-Timestamp is not unix seconds."
        ) from None
    current = now if now is not None else time.time()
    if abs(current - timestamp) > window_seconds:
        raise SignatureError(
            "timestamp_outside_window",
            f"The signature's timestamp is more than {window_seconds} s from now.",
        )
    for index, secret in enumerate(secrets):
        expected = signature(secret=secret, timestamp=timestamp, body=body)
        if hmac.compare_digest(expected, signature_header.strip()):
            return index
    raise SignatureError("signature_invalid", "The signature does not match the body.")


class ReplayGuard:
    """Remembers signatures for as long as their timestamps are inside the window, so the
    same signed request is accepted once. Thread-safe; memory is bounded by the request
    rate × the window."""

    def __init__(self, *, window_seconds: int = REPLAY_WINDOW_SECONDS):
        self.window_seconds = window_seconds
        self._seen: OrderedDict[str, int] = OrderedDict()  # signature → timestamp, oldest first
        self._lock = threading.Lock()

    def check_and_remember(self, *, signature_header: str, timestamp: int, now: float) -> None:
        with self._lock:
            horizon = now - self.window_seconds
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if seen_at >= horizon:
                    break
                del self._seen[oldest]
            key = signature_header.strip()
            if key in self._seen:
                raise SignatureError("replayed", "This signed request was already received.")
            self._seen[key] = timestamp
