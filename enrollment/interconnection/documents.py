"""Checking uploads: PDF, PNG or JPEG by their first bytes (never by name or the browser's
claim), at most 20 MB."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def sniff_content_type(head: bytes) -> str | None:
    for signature, content_type in MAGIC:
        if head.startswith(signature):
            return content_type
    return None


def check_upload(upload: UploadedFile) -> tuple[str, str]:
    """Return (content type, sha256) of an acceptable upload, or raise ValidationError with a
    message that says what to do."""
    if upload.size is None or upload.size == 0:
        raise ValidationError("The file is empty.", code="empty")
    if upload.size > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is 20 MB.",
            code="too_large",
        )
    upload.seek(0)
    content_type = sniff_content_type(upload.read(16))
    if content_type is None:
        raise ValidationError(
            "Only PDF, PNG and JPEG files are accepted (checked by the file's content).",
            code="file_type",
        )
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return content_type, digest.hexdigest()
