"""Responses that hand a file to the browser: streamed CSV exports and stored documents."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, StreamingHttpResponse


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def csv_download(
    *, filename: str, rows: Iterable[Sequence], header: Sequence[str] | None = None
) -> StreamingHttpResponse:
    """Stream rows as a CSV attachment, so a large export never sits in memory."""
    writer = csv.writer(_Echo())

    def lines():
        if header is not None:
            yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def document_download(*, file: FieldFile, filename: str, content_type: str) -> FileResponse:
    """A stored upload as an attachment with the type its content was checked to be. There is
    no other way to such files: MEDIA_ROOT is not served."""
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
