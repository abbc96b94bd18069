"""What only an OpenADR 3 source needs: how the VEN signs in to the VTN and where the VTN
calls it back (``OpenADR3Link``), and each version of a VTN event the VEN acted on
(``OpenADR3EventVersion``: the key that makes a poll and a callback delivering the same
version act once, the intervals and report requests it carried, and when its report went)."""

from __future__ import annotations

from django.db import models

from dispatch.models.grid import GridSignal, GridSignalSource
from portal.models import TenantOwned


class OpenADR3Link(TenantOwned):
    """A source's OpenADR 3 settings and what the VEN learned from the VTN. The VTN's base
    URL is the source's ``vtn_url``; the client secret is stored sealed
    (``dispatch.grid.openadr3.credentials``) and never shown back."""

    source = models.OneToOneField(
        GridSignalSource, on_delete=models.CASCADE, related_name="openadr3"
    )
    token_url = models.URLField(max_length=300)
    client_id = models.CharField(max_length=200)
    client_secret_sealed = models.TextField(blank=True)
    # Names the source in our webhook's URL; the VTN's bearer token is derived from it.
    callback_token = models.CharField(max_length=64, unique=True)
    # Price-only events become price-signal events in the mapped program (else: planning
    # information, recorded, not dispatched).
    dispatch_prices = models.BooleanField(default=False)
    # The VTN's programs (id → {"programName", "modified"}) and our subscriptions (program
    # id → subscription id), as of the last poll or callback.
    vtn_programs = models.JSONField(default=dict, blank=True)
    subscription_ids = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"OpenADR 3 settings of {self.source_id}"


class OpenADR3EventVersion(TenantOwned):
    """One version of a VTN event (its id and ``modificationDateTime``, or a hash of the
    object when the VTN sends none) and the ``GridSignal`` recording what the portal did."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(GridSignalSource, on_delete=models.CASCADE, related_name="+")
    vtn_event_id = models.CharField(max_length=100)
    version = models.CharField(max_length=64)
    vtn_program_id = models.CharField(max_length=128)
    signal = models.OneToOneField(GridSignal, on_delete=models.CASCADE, related_name="openadr3")
    priority = models.PositiveIntegerField(null=True, blank=True)
    # [{"start", "minutes", "payloads": {type: values}}] as the VTN sent them, and the portal's
    # reading of each: [{"start", "minutes", "kw"}] (kw None: all available).
    intervals = models.JSONField(default=list, blank=True)
    profile = models.JSONField(default=list, blank=True)
    report_requests = models.JSONField(default=list, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "vtn_event_id", "version"], name="unique_openadr3_event_version"
            )
        ]
        indexes = [
            models.Index(
                fields=["source", "reported_at"],
                name="openadr3_unreported",
                condition=models.Q(reported_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.vtn_event_id} @ {self.version}"
