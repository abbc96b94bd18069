"""Vehicle telemetry: partners' readings normalized, stored in bulk, and kept summarized.

``readings`` turns a partner's raw readings into the portal's (or refuses each bad one with a
stable code), ``ingest`` stores a batch and keeps each vehicle's latest state current,
``rollups`` keeps the 15-minute energy rollups current in the same transaction, and
``retention`` purges old raw readings. Dispatch reads the latest state of a whole fleet with
``devices.selectors.latest_states`` (one query). Import from those modules.
"""
