"""Billing writes, one module per area: ``meter`` (meter data imports)."""
