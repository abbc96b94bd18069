"""Measurement and verification (M&V) of demand-response events, and what it pays.

``baselines`` (the 15-minute grid, net load, each vehicle's 10-in-10 baseline and the refusals
``MeasurementError``), ``participants`` (one participant's actual and delivered kW per
interval and its rebound), ``totals`` (the event's per-interval totals, summary and rebound),
``run`` (measuring an ended event: reads in bulk, one UPDATE, the audit row),
``intervals`` (the live console's intervals while the event runs), ``premise`` (the premise
behind a V2H car), ``incentives`` (the per-event and seasonal capacity payments) and
``participation`` (the monthly participation credit). Import from those modules.
"""
