"""Tariffs and the bill engine, in pure Python (no Django models).

- ``schedule``: ``TariffSchedule``, the normalized tariff the engine reads (JSON round trip).
- ``urdb``: ``parse_urdb`` turns an OpenEI URDB document into a ``TariffSchedule``.
- ``engine``: ``aggregate``, ``bill_month`` and ``compute_bills``: monthly bills in ``Decimal``.
- ``display``: a tariff's period maps as heat-map rows and legends for the tariff page.

How bills are computed and rounded: the ``engine`` docstring and docs/billing.md.
"""
