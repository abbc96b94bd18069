"""Webhook signatures: what the adapter sends and every receiver checks (no database)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from devices.adapters.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    SignatureError,
    signed_headers,
    verify,
)

BODY = b'{"batch_id": "b1", "commands": []}'
NOW = 1_780_000_000


def check(headers, *, secrets=("s1",), body=BODY, now=NOW) -> int:
    return verify(
        secrets=list(secrets),
        body=body,
        timestamp_header=headers.get(TIMESTAMP_HEADER),
        signature_header=headers.get(SIGNATURE_HEADER),
        now=now,
    )


def test_it_signs_the_timestamp_and_the_body_with_hmac_sha256():
    headers = signed_headers(secret="s1", body=BODY, now=NOW)

    expected = hmac.new(b"s1", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: f"v1={expected}"}


def test_it_tells_which_secret_signed():
    headers = signed_headers(secret="s2", body=BODY, now=NOW)
    assert check(headers, secrets=("s1", "s2")) == 1


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "signature_missing"),
        ({TIMESTAMP_HEADER: "yesterday", SIGNATURE_HEADER: "v1=00"}, "timestamp_invalid"),
        (signed_headers(secret="s1", body=BODY, now=NOW - 301), "timestamp_outside_window"),
        (signed_headers(secret="s1", body=BODY, now=NOW + 301), "timestamp_outside_window"),
        (signed_headers(secret="other", body=BODY, now=NOW), "signature_invalid"),
        (signed_headers(secret="s1", body=BODY + b" ", now=NOW), "signature_invalid"),
        (
            {**signed_headers(secret="s1", body=BODY, now=NOW), TIMESTAMP_HEADER: str(NOW + 1)},
            "signature_invalid",
        ),
    ],
)
def test_it_refuses_what_it_cannot_trust(headers, code):
    with pytest.raises(SignatureError) as refused:
        check(headers)
    assert refused.value.code == code


def test_it_accepts_a_signature_inside_the_window():
    assert check(signed_headers(secret="s1", body=BODY, now=NOW - 299)) == 0


def test_the_replay_guard_accepts_each_signature_once_within_the_window():
    guard = ReplayGuard(window_seconds=300)
    signature = signed_headers(secret="s1", body=BODY, now=NOW)[SIGNATURE_HEADER]

    guard.check_and_remember(signature_header=signature, timestamp=NOW, now=NOW)
    with pytest.raises(SignatureError) as refused:
        guard.check_and_remember(signature_header=signature, timestamp=NOW, now=NOW + 10)
    assert refused.value.code == "replayed"

    # Once outside the window it is forgotten (verify refuses it by its timestamp anyway).
    guard.check_and_remember(signature_header="v1=other", timestamp=NOW + 400, now=NOW + 400)
    assert signature not in guard._seen
