"""Grid signals: events a grid operator's system calls over OpenADR 2.0b. ``oadr2b_xml`` reads
and validates the VTN's messages (lxml, the 2.0b schemas of the installed openleadr package);
``oadr2b_events`` is the event state machine (eventID × modificationNumber, implied
cancellation); ``openadr`` turns each event into the utility's events (through the same
services and guardrails as an operator's event); ``oadr2b_reports`` the telemetry reports;
``oadr2b_session`` one source's register / poll / re-request loop; ``ven`` runs a session per
source (``manage.py run_ven``). The sources and routes are changed through
``dispatch.services.grid_sources``, opt schedules through ``dispatch.services.grid_opts``,
the message log and health written through ``dispatch.services.grid_messages``.
``openadr3`` is the OpenADR 3 VEN (REST/JSON, ``manage.py run_ven3``)."""
