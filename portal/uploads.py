"""Checking uploaded documents: PDF, PNG or JPEG by their first bytes (never by the name or
the browser's claim), within a size limit. Shared by every place that accepts documents."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

DOCUMENT_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def sniff_content_type(head: bytes) -> str | None:
    """The content type the first bytes prove, or None."""
    for signature, content_type in DOCUMENT_SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def check_upload(upload: UploadedFile, *, max_bytes: int) -> tuple[str, str]:
    """(content type, sha256) of an acceptable upload, or ValidationError with a message that
    says what is wrong (codes: empty, too_large, file_type)."""
    name = f"“{upload.name}”" if upload.name else "The file"
    if not upload.size:
        raise ValidationError(f"{name} is empty.", code="empty")
    if upload.size > max_bytes:
        raise ValidationError(
            f"{name} is {upload.size / 1024 / 1024:.1f} MB; the limit is "
            f"{max_bytes // (1024 * 1024)} MB.",
            code="too_large",
        )
    upload.seek(0)
    content_type = sniff_content_type(upload.read(16))
    if content_type is None:
        raise ValidationError(
            f"{name} is not a PDF, PNG or JPEG file (checked by its content, whatever its "
            "name says).",
            code="file_type",
        )
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return content_type, digest.hexdigest()
