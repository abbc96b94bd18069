"""Incentives: offers, applications, the append-only ledger, payout batches and disputes.

Money is ``Decimal`` with two places everywhere. What a program has committed and paid is
never stored as a counter: it is summed from ``LedgerEntry`` rows, which are only ever
inserted (the model refuses changes and database triggers refuse them too, see migration
``enrollment.0004_incentives``, which created these tables; they keep their ``enrollment_``
names).
"""

from enrollment.incentives.models.ledger import LedgerEntry, LedgerEntryQuerySet, LedgerIsAppendOnly
from enrollment.incentives.models.offers import (
    Incentive,
    IncentiveDocument,
    IncentiveOffer,
    _document_path,  # named by the migrations that created IncentiveDocument
)
from enrollment.incentives.models.payouts import Dispute, PayoutBatch, PayoutItem, PayoutPreference

__all__ = [
    "Dispute",
    "Incentive",
    "IncentiveDocument",
    "IncentiveOffer",
    "LedgerEntry",
    "LedgerEntryQuerySet",
    "LedgerIsAppendOnly",
    "PayoutBatch",
    "PayoutItem",
    "PayoutPreference",
    "_document_path",
]
