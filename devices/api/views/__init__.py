"""Device endpoints of the partner API (docs/partner-protocol.md), one module per resource:
vehicles (with their preferences), telemetry, commands and opt-outs.

Each view runs inside the scope of the utilities the client may act in (``PartnerAPIMixin``)
and sees only its own partner's vehicles and commands there: anything else is answered
exactly like something that does not exist. The views parse and answer; the work is done by
``devices.services`` and ``devices.telemetry``, whose refusals (``DeviceError``) become the
one error shape (``base``), with their stable codes.
"""
