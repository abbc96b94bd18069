"""Uploaded invoices and evidence: checked (type, size) and stored under a random name."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from enrollment.incentives.models import IncentiveDocument
from enrollment.incentives.services.errors import InvalidDocument
from enrollment.incentives.services.ledger import acting_user
from portal.models import User
from portal.uploads import check_upload

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def check_document(upload: UploadedFile) -> tuple[str, str]:
    """The upload's (content type, sha256), or InvalidDocument saying what is wrong with it."""
    try:
        return check_upload(upload, max_bytes=MAX_DOCUMENT_BYTES)
    except ValidationError as exc:
        raise InvalidDocument(exc.messages[0]) from None


def store_document(
    *, utility_id: int, kind: str, upload: UploadedFile, actor: User | None
) -> IncentiveDocument:
    content_type, sha256 = check_document(upload)
    document = IncentiveDocument(
        utility_id=utility_id,
        kind=kind,
        original_name=(upload.name or kind)[:200],
        content_type=content_type,
        size_bytes=upload.size,
        sha256=sha256,
        uploaded_by=acting_user(actor),
    )
    # The storage name comes from the model's upload_to: random, never the uploaded name.
    document.file.save(kind, upload, save=False)
    document.save()
    return document
