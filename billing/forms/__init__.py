"""Billing page forms, one module per area: ``tariffs`` (import, assign, end an assignment),
``meter`` (meter data import)."""
