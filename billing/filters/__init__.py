"""Billing list filters, one module per area: ``meter`` (meter imports)."""
