"""The OpenADR 3 secrets of a source: the VTN client secret is stored sealed (Fernet, with a
key derived from ``SECRET_KEY``: a database dump alone does not reveal it, and it is never
shown back on a page); the bearer token the VTN must present on our webhook is derived from
the source's callback token and ``SECRET_KEY`` (HMAC), so it is not stored at all. Rotating
``SECRET_KEY`` therefore means entering the client secrets again and re-subscribing (the VEN
re-subscribes by itself when the bearer token changes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SealBroken(ValueError):
    """The sealed secret cannot be opened (``SECRET_KEY`` changed, or the value was altered)."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"openadr3-client-secret:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def unseal(sealed: str) -> str:
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SealBroken(
            "The client secret cannot be read (SECRET_KEY changed?); enter it again."
        ) from None


def new_callback_token() -> str:
    return secrets.token_urlsafe(24)


def callback_bearer(callback_token: str) -> str:
    """The bearer token the VTN sends on our webhook for this callback token."""
    key = f"openadr3-callback:{settings.SECRET_KEY}".encode()
    return hmac.new(key, callback_token.encode(), hashlib.sha256).hexdigest()


def bearer_matches(callback_token: str, authorization: str) -> bool:
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip(), callback_bearer(callback_token))
