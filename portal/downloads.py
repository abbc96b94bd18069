"""Responses that hand a file to the browser: streamed CSV exports and stored documents.

Every CSV the portal writes goes through ``csv_writer``: a spreadsheet opening the file runs a
cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula (CSV
injection, OWASP), and those cells can hold what customers, installers and partners typed. Such a
cell is written with a leading apostrophe, which spreadsheets show as text; plain numbers
("-12.50", "+3") are left as they are so amounts stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, StreamingHttpResponse

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_safe(value: Any) -> Any:
    """The value as a spreadsheet should see it: text that would start a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


class _SafeWriter:
    """csv.writer with every cell passed through ``csv_safe``."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([csv_safe(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out, **kwargs) -> _SafeWriter:
    """The portal's one CSV writer (formula-safe); takes csv.writer's arguments."""
    return _SafeWriter(out, **kwargs)


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def csv_download(
    *, filename: str, rows: Iterable[Sequence], header: Sequence[str] | None = None
) -> StreamingHttpResponse:
    """Stream rows as a CSV attachment, so a large export never sits in memory."""
    writer = csv_writer(_Echo())

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
