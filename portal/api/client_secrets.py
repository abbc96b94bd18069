"""Partner client secrets are checked with a fast keyed hash, not a password hash.

DOT stores client secrets through Django's password hashers (``CLIENT_SECRET_HASHER``). The
default, PBKDF2 with a million iterations, exists to slow down guessing *low-entropy* human
passwords; a client secret is 40+ random characters that nobody can guess, so the slowness
buys nothing and lets anyone burn ~0.5 s of CPU per wrong secret at /o/token/. An HMAC-SHA256
keyed with ``CLIENT_SECRET_HASH_KEY`` keeps a stolen database dump useless without the key and
costs microseconds per check.

Secrets hashed before (PBKDF2, or the tests' MD5) keep working: a successful check of one is
re-hashed with this hasher on the spot (``PartnerOAuth2Validator``), so every active client
is upgraded on its next token request. Only a client that never asks again keeps its old
hash, and any wrong guess against it is bounded by the token endpoint's failure budgets.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, make_password, mask_hash
from django.utils.crypto import constant_time_compare
from oauth2_provider.models import get_application_model

ALGORITHM = "hmac_sha256_client"
HASHER_PATH = "portal.api.client_secrets.ClientSecretHasher"


class ClientSecretHasher(BasePasswordHasher):
    """HMAC-SHA256(key, salt + secret). For machine-generated secrets only: registered in
    ``PASSWORD_HASHERS`` after the password hashers, so no person's password uses it."""

    algorithm = ALGORITHM

    def _digest(self, secret: str, salt: str) -> str:
        key = settings.CLIENT_SECRET_HASH_KEY.encode()
        return hmac.new(key, f"{salt}${secret}".encode(), hashlib.sha256).hexdigest()

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)
        return f"{self.algorithm}${salt}${self._digest(password, salt)}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict[str, str]:
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"], show=2),
            "hash": mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass  # no work factor to equalize


def upgrade_secret_hash(*, application_pk: int, old_hash: str, secret: str) -> bool:
    """Re-hash a verified secret with the keyed hash. Compare-and-set on the old hash: a
    concurrent upgrade (or a rotated secret) wins, and this one changes nothing."""
    Application = get_application_model()
    return bool(
        Application.objects.filter(pk=application_pk, client_secret=old_hash).update(
            client_secret=make_password(secret, hasher=ALGORITHM)
        )
    )
