"""The interconnection models, one module per area; import them from here.

They were the enrollment app's until interconnection became an app
(``enrollment.0012_move_interconnection_out``): the tables keep their ``enrollment_`` names.
SLA clocks measure each stage in business days; documents keep every version.
"""

from enrollment.interconnection.models.applications import (
    DEFAULT_SLA_BUSINESS_DAYS,
    InterconnectionApplication,
    InterconnectionPolicy,
    Transformer,
)
from enrollment.interconnection.models.documents import (
    ApplicationDocument,
    Deficiency,
    DeficiencyItem,
)
from enrollment.interconnection.models.history import ApplicationTransition, SlaClock
from enrollment.interconnection.models.messages import ApplicationMessage, ApplicationNotification

__all__ = [
    "DEFAULT_SLA_BUSINESS_DAYS",
    "ApplicationDocument",
    "ApplicationMessage",
    "ApplicationNotification",
    "ApplicationTransition",
    "Deficiency",
    "DeficiencyItem",
    "InterconnectionApplication",
    "InterconnectionPolicy",
    "SlaClock",
    "Transformer",
]
