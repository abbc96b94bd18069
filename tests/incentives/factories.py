"""Factories for incentive offers, created with scopes disabled."""

from __future__ import annotations

from decimal import Decimal

import factory

from enrollment.incentives.models import IncentiveOffer
from tests.enrollment.factories import ProgramFactory
from tests.portal.factories import ScopelessFactory


class OfferFactory(ScopelessFactory):
    class Meta:
        model = IncentiveOffer

    program = factory.SubFactory(ProgramFactory)
    utility = factory.SelfAttribute("program.utility")
    kind = IncentiveOffer.Kind.CHARGER_REBATE
    name = factory.Sequence(lambda n: f"Offer {n}")
    reason_code = "EVREBATE"
    payout_channel = IncentiveOffer.Channel.BILL_CREDIT
    amount = Decimal("300.00")
    income_qualified_amount = Decimal("600.00")
