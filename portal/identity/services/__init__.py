"""Identity writes, one module per seam: ``invitations`` (invite, revoke, resend, accept),
``memberships`` (which organization a role belongs to; removing a role), ``access_requests``
(installer companies asking to work in a utility) and ``errors`` (their refusals). Import
from those modules.

Every state change locks or compare-and-sets its row, writes an audit row and schedules its
emails with ``enqueue_on_commit``, so a rolled-back change never sends anything.
"""
