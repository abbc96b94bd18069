"""Grid signals: events a grid operator's system calls over OpenADR 2.0b. ``openadr`` turns
what the VTN sends into the utility's events (through the same services and guardrails as an
operator's event); ``ven`` is the portal's VEN that polls each VTN (``manage.py run_ven``).
``openadr3`` is the OpenADR 3 VEN (REST/JSON, ``manage.py run_ven3``). The sources and routes
are changed through ``dispatch.services.grid_sources``."""
