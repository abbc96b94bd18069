"""Signals other apps listen to, so that devices never imports them.

``command_outcomes``: commands just became ``opted_out``, ``rejected`` or ``failed`` (or an
opt-out for a source arrived). Sent inside the transaction that changed them, with
``utility_id`` and ``sources``: a set of ``(source_type, source_id)``; ``source_type`` is ""
for an opt-out naming only an event reference. Receivers should act on commit.
"""

from django.dispatch import Signal

command_outcomes = Signal()
