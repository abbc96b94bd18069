"""Billing page forms, one module per area: ``meter`` (meter data import)."""
