"""Signals other apps listen to, so that devices never imports them.

``command_outcomes``: commands just became ``opted_out``, ``rejected`` or ``failed`` (or an
opt-out for a source arrived). Sent inside the transaction that changed them, with
``utility_id`` and ``sources``: a set of ``(source_type, source_id)``; ``source_type`` is ""
for an opt-out naming only an event reference. Receivers should act on commit.

``equipment_changed``: what eligibility reads about a vehicle changed (make, model, modes,
status, its service account). Sent inside the transaction with ``utility_id`` and
``service_account_ids`` (the accounts it was and is linked to). The approved equipment list
is a model of its own: its saves and deletes are its signal.
"""

from django.dispatch import Signal

command_outcomes = Signal()
equipment_changed = Signal()
