"""Documents and deficiencies: every uploaded version of every document kept, and the
"needs information" / corrections rounds whose items the installer answers."""

from __future__ import annotations

from pathlib import PurePosixPath
from secrets import token_hex

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from enrollment.interconnection.models.applications import InterconnectionApplication
from enrollment.interconnection.models.history import ApplicationTransition
from portal.models import TenantOwned


class Deficiency(TenantOwned):
    """A "needs information" round from the utility or corrections from the AHJ: items, each
    with the reviewer's comment and the installer's answer."""

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(
        InterconnectionApplication, on_delete=models.CASCADE, related_name="deficiencies"
    )
    track = models.CharField(max_length=8, choices=ApplicationTransition.Track.choices)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "enrollment_deficiency"
        ordering = ["created_at", "id"]
        verbose_name_plural = "deficiencies"
        constraints = [
            models.UniqueConstraint(
                fields=["application", "track"],
                condition=Q(answered_at__isnull=True),
                name="one_open_deficiency_per_track",
            )
        ]

    def __str__(self) -> str:
        return f"Deficiency #{self.pk} on {self.application}"


def _document_path(document: ApplicationDocument, filename: str) -> str:
    # Random names: nothing about the customer or the upload is in the path.
    return f"interconnection/{document.utility_id}/{token_hex(16)}{document.extension}"


class ApplicationDocument(TenantOwned):
    """An uploaded document. A re-upload of the same kind is a new version; none is deleted."""

    class Kind(models.TextChoices):
        CUSTOMER_AUTHORIZATION = "customer_authorization", "Customer authorization"
        SINGLE_LINE_DIAGRAM = "single_line_diagram", "Single-line diagram"
        SITE_PLAN = "site_plan", "Site plan"
        SPEC_SHEET = "spec_sheet", "Equipment spec sheets"
        CERTIFICATE = "certificate", "Equipment certificates (UL 9741 / UL 1741-SB)"
        TRANSFER_SWITCH_SPEC = "transfer_switch_spec", "Transfer-switch spec"
        LOAD_CALCULATION = "load_calculation", "Load calculation and busbar check"
        INSTALLER_LICENSE = "installer_license", "Installer licence"
        AHJ_PERMIT = "ahj_permit", "AHJ permit"
        SIGNED_AGREEMENT = "signed_agreement", "Signed interconnection agreement"
        OTHER = "other", "Other"

    EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(
        InterconnectionApplication, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    version = models.PositiveSmallIntegerField()
    file = models.FileField(upload_to=_document_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "enrollment_applicationdocument"
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "kind", "version"], name="unique_document_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"

    @property
    def extension(self) -> str:
        return self.EXTENSIONS[self.content_type]

    @property
    def download_name(self) -> str:
        stem = PurePosixPath(self.original_name).stem[:80] or self.kind
        return f"{stem}-v{self.version}{self.extension}"


class DeficiencyItem(TenantOwned):
    class Topic(models.TextChoices):
        DOCUMENT = "document", "A document"
        EQUIPMENT = "equipment", "Equipment"
        ELECTRICAL = "electrical", "Panel, busbar or breaker ratings"
        EXPORT = "export", "Export limit"
        OTHER = "other", "Other"

    id = models.BigAutoField(primary_key=True)
    deficiency = models.ForeignKey(Deficiency, on_delete=models.CASCADE, related_name="items")
    topic = models.CharField(max_length=12, choices=Topic.choices)
    document_kind = models.CharField(
        max_length=24, choices=ApplicationDocument.Kind.choices, blank=True
    )
    comment = models.TextField()
    response = models.TextField(blank=True)
    response_document = models.ForeignKey(
        ApplicationDocument, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        db_table = "enrollment_deficiencyitem"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_topic_display()}: {self.comment[:60]}"

    @property
    def needs_document(self) -> bool:
        """An item that asks for a document is answered by a new version of it, not words."""
        return self.topic == self.Topic.DOCUMENT or bool(self.document_kind)
