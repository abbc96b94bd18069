"""Requests of the partner API's enrollment tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone


def body(enrolled, /, **changes) -> dict:
    """A submission of ``enrolled`` (a vehicle) with ``changes`` to its fields."""
    data = {
        "utility": "alpha",
        "program": "summer-v2h",
        "account_number": enrolled.service_account.account_number,
        "zip_code": enrolled.service_account.zip_code,
        "vehicle": {"vin": enrolled.vin},
        "consent": {
            "terms_version": "2026.1",
            "accepted_at": (timezone.now() - timedelta(minutes=2)).isoformat(),
            "channel": "automaker_app",
            "data_sharing_scope": ["telemetry", "charging_schedule"],
        },
    }
    data.update(changes)
    return data


def enroll(api, data, key="key-1"):
    return api.post("/api/v1/enrollments", data, format="json", HTTP_IDEMPOTENCY_KEY=key)
