"""Tariffs and the bill engine, in pure Python (no Django models).

- ``schedule``: ``TariffSchedule``, the normalized tariff the engine reads (JSON round trip).
- ``urdb``: ``parse_urdb`` turns an OpenEI URDB document into a ``TariffSchedule``.
- ``engine``: ``aggregate``, ``bill_month`` and ``compute_bills``: monthly bills in ``Decimal``.
"""
