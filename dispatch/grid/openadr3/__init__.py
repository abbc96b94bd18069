"""The portal as an OpenADR 3.0.x VEN (REST/JSON): ``client`` talks to one VTN (OAuth2 client
credentials, paging, every exchange to the message log); ``mapping`` reads an event's
intervals, payloads, priority and targets; ``terms`` decides what the portal would schedule
for them; ``events`` turns them into the utility's events through dispatch's services and
guardrails (idempotent per event version); ``reports`` builds
the usage / demand / availability reports from the telemetry rollups; ``runner`` polls each
source, keeps its VEN and subscriptions in place and records its health (``manage.py
run_ven3``); ``callbacks`` is the webhook the VTN notifies; ``credentials`` seals the client
secret and derives the webhook's bearer token."""
