"""Interconnection documents: PDF, PNG or JPEG by their first bytes, at most 20 MB; a
re-upload of the same kind is a new version, none is deleted."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max

from enrollment.interconnection.models import ApplicationDocument, InterconnectionApplication
from enrollment.interconnection.services.errors import InvalidInput, TransitionNotAllowed
from enrollment.interconnection.services.transitions import lock_application
from portal.audit import record
from portal.models import User
from portal.uploads import check_upload as check_file

Application = InterconnectionApplication
Kind = ApplicationDocument.Kind


MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


def check_upload(upload: UploadedFile) -> tuple[str, str]:
    """(content type, sha256) of an acceptable upload, or ValidationError saying why not."""
    return check_file(upload, max_bytes=MAX_DOCUMENT_BYTES)


def store_document(
    *, app: Application, kind: str, upload: UploadedFile, actor: User | None
) -> ApplicationDocument:
    content_type, digest = check_upload(upload)
    latest = ApplicationDocument.objects.filter(application=app, kind=kind).aggregate(
        v=Max("version")
    )["v"]
    document = ApplicationDocument(
        utility_id=app.utility_id,
        application=app,
        kind=kind,
        version=(latest or 0) + 1,
        original_name=(upload.name or "upload")[:200],
        content_type=content_type,
        size_bytes=upload.size,
        sha256=digest,
        uploaded_by=actor,
    )
    # The storage name comes from upload_to: random, never the uploaded name.
    document.file.save("upload", upload, save=False)
    try:
        document.save()
    except Exception:
        document.file.delete(save=False)
        raise
    record(
        action="interconnection.document_uploaded",
        utility=app.utility,
        obj=app,
        actor=actor,
        changes={"kind": kind, "version": document.version, "sha256": digest},
    )
    return document


def upload_document(
    *, application: Application, kind: str, upload: UploadedFile, actor: User
) -> ApplicationDocument:
    """A new version of one kind of document; earlier versions stay."""
    if kind not in Kind.values:
        raise InvalidInput("Choose what kind of document this is.")
    with transaction.atomic():
        app = lock_application(application.pk)
        if app.status in Application.FINAL_STATES:
            raise TransitionNotAllowed("This application is closed; documents can't be added.")
        return store_document(app=app, kind=kind, upload=upload, actor=actor)
