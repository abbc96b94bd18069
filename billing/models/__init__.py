"""Billing models, one module per area; every model is importable from here."""

from billing.models.meter import MeterImport, MeterInterval  # noqa: F401  (meter)
from billing.models.tariffs import Tariff, TariffAssignment  # noqa: F401  (rates)
