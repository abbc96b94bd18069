"""Utilities (the tenants) and ``TenantOwned``, the base of every table that belongs to one."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django_scopes import ScopedManager

zip_code_validator = RegexValidator(r"^\d{5}$", "Enter a five-digit ZIP code.")


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone.") from None


class Utility(models.Model):
    """The tenant. Every customer, enrollment, application, event and bill belongs to one."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    service_territory = models.TextField(
        help_text="Description of the service territory (counties, cities)."
    )
    territory_zip_codes = models.JSONField(
        default=list, blank=True, help_text="Five-digit ZIP codes served."
    )
    holiday_country = models.CharField(max_length=2, default="US")
    holiday_subdivision = models.CharField(max_length=10, blank=True, help_text="e.g. CA, CO")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "utilities"

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def clean(self) -> None:
        for code in self.territory_zip_codes or []:
            zip_code_validator(code)


class TenantOwned(models.Model):
    """Base for every table that belongs to one utility.

    The default manager refuses to run a query unless a utility scope is active
    (``django_scopes.scope(utility=...)``), so forgetting to scope fails closed.
    """

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="+")

    objects = ScopedManager(utility="utility")

    class Meta:
        abstract = True
