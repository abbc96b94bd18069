"""Billing pages under /u/<utility_slug>/, one module per area: ``meter`` (meter data
imports and an account's meter data)."""
