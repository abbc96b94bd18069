"""Dispatch pages, one module per area: ``events`` (list, schedule, detail, actions),
``console`` (the live console and the calendar), ``report`` (the M&V report), ``groups``
(dispatch groups) and ``grid`` (grid signal sources)."""
