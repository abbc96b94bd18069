"""Tariff reads: the tariff list, versions, assignments and the tariff in force for an account."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from billing.models import Tariff, TariffAssignment


def tariffs() -> QuerySet[Tariff]:
    return Tariff.objects.order_by("name", "-effective_from", "-id")


def versions_of(tariff: Tariff) -> QuerySet[Tariff]:
    return Tariff.objects.filter(name=tariff.name).order_by("-effective_from")


def assignments() -> QuerySet[TariffAssignment]:
    return TariffAssignment.objects.select_related("tariff", "service_account").order_by(
        "-effective_from", "-id"
    )


def assignments_of(tariff: Tariff) -> QuerySet[TariffAssignment]:
    return assignments().filter(tariff__name=tariff.name)


def _in_force(on: date) -> Q:
    return Q(effective_from__lte=on) & (Q(effective_to__isnull=True) | Q(effective_to__gte=on))


def version_on(name: str, on: date) -> Tariff | None:
    """The version of the tariff called ``name`` in force on ``on``."""
    return Tariff.objects.filter(_in_force(on), name=name).order_by("-effective_from").first()


def tariff_for(account, on: date) -> Tariff | None:
    """The tariff that bills ``account`` on ``on``: the account's own assignment wins over its
    rate class's; the assignment names the tariff, and the version in force that day bills."""
    in_force = assignments().filter(_in_force(on))
    assignment = (
        in_force.filter(service_account=account).first()
        or in_force.filter(rate_class=account.rate_class, service_account__isnull=True).first()
    )
    if assignment is None:
        return None
    return version_on(assignment.tariff.name, on)
