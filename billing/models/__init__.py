"""Billing models, one module per area; every model is importable from here."""

from billing.models.meter import MeterImport, MeterInterval  # noqa: F401  (meter)
from billing.models.settlement import (  # noqa: F401  (settle)
    SettlementChunk,
    SettlementDispute,
    SettlementLine,
    SettlementRun,
)
from billing.models.tariffs import Tariff, TariffAssignment  # noqa: F401  (rates)
