"""Billing chart geometry (drawn by templates, see portal.charts), one module per area:
``meter`` (daily premise energy), ``impact`` (the billing-impact dashboard)."""
