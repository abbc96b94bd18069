"""Reads behind the customer pages and the dashboard. Call them inside the utility's scope:
the scoped managers keep every query to that utility."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet

from portal.audit import history_of
from portal.customers.models import CustomerImport, ServiceAccount
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
