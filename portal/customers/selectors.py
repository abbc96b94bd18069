"""Reads behind the customer pages and the dashboard. Call them inside the utility's scope:
the scoped managers keep every query to that utility."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q, QuerySet

from portal.audit import history_of
from portal.customers.models import (
    CustomerAuthorization,
    CustomerImport,
    CustomerLookupFailure,
    ServiceAccount,
)
from portal.customers.signals import timeline_requested
from portal.models import AuditEvent


def accounts() -> QuerySet[ServiceAccount]:
    return ServiceAccount.objects.all()


def counts_by_rate_class() -> list[tuple[str, int]]:
    """(rate class label, number of accounts), the largest first; one query."""
    by_rate = Counter(
        dict(
            ServiceAccount.objects.values_list("rate_class")
            .annotate(n=Count("id"))
            .values_list("rate_class", "n")
        )
    )
    labels = dict(ServiceAccount.RateClass.choices)
    return [(labels.get(k, k), v) for k, v in by_rate.most_common()]


def imports() -> QuerySet[CustomerImport]:
    return CustomerImport.objects.select_related("uploaded_by")


def history(*, account: ServiceAccount, limit: int = 50) -> QuerySet[AuditEvent]:
    """The account's audit rows, including those written when the model was labelled
    ``enrollment.serviceaccount``."""
    return history_of(account)[:limit]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "enrollment", "vehicle", "consent", "incentive", ...
    title: str
    detail: str = ""
    url_name: str = ""  # a "utility:" URL name taking ``pk``, when the entry links somewhere
    pk: Any = None


def timeline(*, account: ServiceAccount, limit: int = 200) -> list[TimelineEntry]:
    """Everything the other apps know about this customer, newest first: each answers
    ``timeline_requested`` with its own entries."""
    entries = [
        entry
        for _receiver, answer in timeline_requested.send(
            sender=ServiceAccount, account=account, limit=limit
        )
        for entry in answer or ()
    ]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


# --- Customer authorizations and failed lookups --------------------------------------------


def authorizations_of(account: ServiceAccount) -> QuerySet[CustomerAuthorization]:
    return account.authorizations.select_related(
        "issued_by", "revoked_by", "redeemed_by_partner", "redeemed_by_installer"
    )


@dataclass(frozen=True)
class LookupFailureCount:
    channel: str
    party: str
    failures: int
    blocked: int
    last_at: datetime


def lookup_failure_counts(*, since: datetime) -> list[LookupFailureCount]:
    """Failed customer lookups since ``since`` per partner or installer, the most first; one
    query."""
    rows = (
        CustomerLookupFailure.objects.filter(at__gte=since)
        .values("channel", "partner__name", "installer__name")
        .annotate(
            failures=Count("id"),
            blocked=Count("id", filter=Q(blocked=True)),
            last_at=Max("at"),
        )
        .order_by("-failures", "-last_at")
    )
    return [
        LookupFailureCount(
            channel=CustomerLookupFailure.Channel(row["channel"]).label,
            party=row["partner__name"] or row["installer__name"] or "—",
            failures=row["failures"],
            blocked=row["blocked"],
            last_at=row["last_at"],
        )
        for row in rows
    ]


def lookup_failures() -> QuerySet[CustomerLookupFailure]:
    return CustomerLookupFailure.objects.select_related("partner", "installer", "user")
