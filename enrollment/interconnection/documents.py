"""Interconnection documents: PDF, PNG or JPEG by their first bytes, at most 20 MB."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

from portal.uploads import check_upload as _check_upload
from portal.uploads import sniff_content_type

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

__all__ = ["MAX_DOCUMENT_BYTES", "check_upload", "sniff_content_type"]


def check_upload(upload: UploadedFile) -> tuple[str, str]:
    """(content type, sha256) of an acceptable upload, or ValidationError saying why not."""
    return _check_upload(upload, max_bytes=MAX_DOCUMENT_BYTES)
