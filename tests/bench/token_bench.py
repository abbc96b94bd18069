"""Token endpoint benchmark: what a wrong client secret costs the server, as a ratio to a
good token request (finding 2 of the security review: 48 parallel wrong secrets used to cost
~0.5 s of CPU each, PBKDF2 with a million iterations, and slowed every other page).

In-process (django.test.Client, the whole middleware and DOT stack, no network), on the
database and cache the environment names. Each run uses a fresh partner client and a fresh
client address, so earlier runs' failure budgets do not count. Rows:

* a good request (right secret, keyed hash): the unit of the ratios;
* one wrong secret against the keyed hash, within the failure budget;
* one wrong secret against a secret still stored with PBKDF2 (a client not yet upgraded,
  i.e. what every wrong secret cost before);
* 48 wrong secrets sent in parallel from one address: CPU seconds of this process per
  request (the budget answers 429 after OAUTH2_CLIENT_AUTH_FAILURES, without a secret check;
  requests in flight when the budget runs out are still checked, so a few more than the
  limit get their 401).

``run_token_benchmarks()`` prints one table; call it after ``django.setup()``.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

PARALLEL = 48
RUNS = 5
# Targets: a wrong secret costs about what a right one does; a refused one less.
WRONG_SECRET_TARGET_RATIO = 2.0
PARALLEL_TARGET_RATIO = 2.0


def _post(client, client_id: str, secret: str, address: str):
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=f"Basic {credentials}",
        REMOTE_ADDR=address,
        secure=True,
    )


def _address() -> str:
    return "10.{}.{}.{}".format(*secrets.token_bytes(3))


def _issue(utility_slug: str):
    from portal.partners import create_partner_client

    return create_partner_client(
        partner_name=f"Token Bench {secrets.token_hex(4)}", utility_slugs=[utility_slug]
    )


def _cpu_ms(call) -> tuple[float, object]:
    started = time.process_time()
    result = call()
    return (time.process_time() - started) * 1000, result


def token_rows(*, utility_slug: str):
    from django.contrib.auth.hashers import make_password
    from django.test import Client
    from oauth2_provider.models import Application

    from tests.bench.devices_bench import Row

    client = Client(raise_request_exception=False)
    issued = _issue(utility_slug)
    good = []
    for _ in range(RUNS):
        cost, response = _cpu_ms(
            lambda: _post(client, issued.client_id, issued.client_secret, _address())
        )
        assert response.status_code == 200, response.content
        good.append(cost)
    unit = statistics.median(good)

    wrong = [
        _cpu_ms(lambda: _post(client, issued.client_id, "wrong", _address()))[0]
        for _ in range(RUNS)
    ]

    legacy = _issue(utility_slug)
    Application.objects.filter(client_id=legacy.client_id).update(
        client_secret=make_password(legacy.client_secret, hasher="pbkdf2_sha256")
    )
    legacy_wrong = [
        _cpu_ms(lambda: _post(client, legacy.client_id, "wrong", _address()))[0] for _ in range(2)
    ]

    target = _issue(utility_slug)
    address = _address()

    def one_wrong(_):
        return (
            Client(raise_request_exception=False)
            .post(
                "/o/token/",
                {"grant_type": "client_credentials"},
                HTTP_AUTHORIZATION="Basic "
                + base64.b64encode(f"{target.client_id}:wrong".encode()).decode(),
                REMOTE_ADDR=address,
                secure=True,
            )
            .status_code
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel_cost, statuses = _cpu_ms(lambda: Counter(pool.map(one_wrong, range(PARALLEL))))
    per_request = parallel_cost / PARALLEL

    def ratio(ms: float) -> str:
        return f"{ms / unit:.2f}× good ({ms:.1f} ms CPU)"

    def verdict(ms: float, limit: float) -> str:
        return "ok" if ms / unit <= limit else "SLOW"

    wrong_ms = statistics.median(wrong)
    return [
        Row("good token request", f"{unit:.1f} ms CPU", "unit", "-"),
        Row(
            "wrong secret (keyed hash)",
            ratio(wrong_ms),
            f"≤ {WRONG_SECRET_TARGET_RATIO}×",
            verdict(wrong_ms, WRONG_SECRET_TARGET_RATIO),
        ),
        Row(
            "wrong secret (PBKDF2, not upgraded)",
            ratio(statistics.median(legacy_wrong)),
            "for comparison",
            "-",
            "what every wrong secret cost before",
        ),
        Row(
            f"{PARALLEL} parallel wrong secrets, per request",
            ratio(per_request),
            f"≤ {PARALLEL_TARGET_RATIO}×",
            verdict(per_request, PARALLEL_TARGET_RATIO),
            ", ".join(f"{n}× {status}" for status, n in sorted(statuses.items())),
        ),
    ]


def run_token_benchmarks(*, utility_slug: str):
    from tests.bench.devices_bench import print_rows

    # Each refused or failed request would log a line; the table says it all.
    for name in ("django.request", "portal.api.token_views"):
        logging.getLogger(name).setLevel(logging.CRITICAL)

    rows = token_rows(utility_slug=utility_slug)
    print()
    print_rows(rows, title="OAuth2 token endpoint: server CPU per request, in-process")
    return rows


if __name__ == "__main__":
    import django

    django.setup()
    from demo.organizations import SCALE_SLUG

    run_token_benchmarks(utility_slug=SCALE_SLUG)
