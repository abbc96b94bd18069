"""Choices shared by several incentive models and forms."""

from django.db import models


class PayoutMethod(models.TextChoices):
    BILL_CREDIT = "bill_credit", "Bill credit"
    CHECK = "check", "Check"
    ACH = "ach", "ACH transfer"
    EGIFT = "egift", "E-gift card"


OFF_BILL_METHODS = [PayoutMethod.CHECK, PayoutMethod.ACH, PayoutMethod.EGIFT]
