"""Billing page forms, one module per area: ``tariffs`` (import, assign, end an assignment),
``meter`` (meter data import), ``settlement`` (runs, disputes, the dashboard's program and month)."""
