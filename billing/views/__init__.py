"""Billing pages, one module per area: ``tariffs`` (tariff list, import, heat maps, assignments)."""
