"""Billing page forms, one module per area (validation only, no writes)."""
