"""Signals other apps answer, so that customers never imports them.

``timeline_requested``: a customer's page is being shown. Sent with ``account`` (the
``ServiceAccount``) and ``limit``; each receiver returns up to ``limit`` entries about that
customer (objects with ``at``, ``kind``, ``title``, ``detail``, ``url_name`` and ``pk``,
like ``portal.customers.selectors.TimelineEntry``), in any order.

``accounts_changed``: service accounts' data changed (an import updated them). Sent inside
the transaction with ``utility_id`` and ``service_account_ids``; receivers act on commit.
"""

from django.dispatch import Signal

timeline_requested = Signal()
accounts_changed = Signal()
