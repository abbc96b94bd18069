"""Writes of the customers app: importing a utility's customers from a CSV extract of its
customer system.

Upsert by account number, with a row-level report: every data row is ``imported`` (new),
``updated``, ``unchanged`` or ``rejected`` with its reasons. Broken rows are rejected while
the valid ones are stored (``bulk_create`` / ``bulk_update``, in one transaction). A file that
is not a customer CSV at all — too big, binary, not UTF-8, no ``account_number`` column — is
refused as a whole with ``CustomerFileError`` saying why.

Header names are case-insensitive (spaces and hyphens count as underscores); unknown columns
are reported and ignored. A column left out of the file leaves that field of existing
accounts as it is; new accounts need the required columns.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit import record
from portal.bulk import bulk_update_rows
from portal.customers.models import CustomerImport, ServiceAccount
from portal.customers.signals import accounts_changed
from portal.downloads import csv_writer
from portal.models import User, Utility

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# What browsers and mail clients call a CSV file (Windows labels it as an Excel type).
CSV_CONTENT_TYPES = {
    "text/csv",
    "application/csv",
    "text/comma-separated-values",
    "text/plain",
    "application/vnd.ms-excel",
}
COLUMNS = (
    "account_number",
    "customer_name",
    "premise_address",
    "city",
    "state",
    "zip_code",
    "meter_id",
    "feeder",
    "rate_class",
    "tariff",
    "email",
    "phone",
    "smart_meter",
    "income_qualified",
    "medical_need",
)
REQUIRED_FOR_NEW = ("customer_name", "premise_address", "city", "state", "zip_code", "rate_class")
BOOLEAN_COLUMNS = ("smart_meter", "income_qualified", "medical_need")
TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n"}
BULK_CHUNK = 2000

IMPORTED, UPDATED, UNCHANGED, REJECTED = "imported", "updated", "unchanged", "rejected"

_ZIP = re.compile(r"^\d{5}$")
_STATE = re.compile(r"^[A-Z]{2}$")
_validate_email = EmailValidator()
_RATE_CLASSES = {
    **{value: value for value in ServiceAccount.RateClass.values},
    **{str(label).lower(): value for value, label in ServiceAccount.RateClass.choices},
}
_MAX_LENGTHS = {
    name: ServiceAccount._meta.get_field(name).max_length
    for name in COLUMNS
    if name not in BOOLEAN_COLUMNS and name != "rate_class"
}


class CustomerFileError(Exception):
    """The file as a whole cannot be imported; ``message`` says why, for the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class RowReport:
    row: int  # the line's row number in the file, the header being row 1
    account_number: str
    outcome: str
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "account_number": self.account_number,
            "outcome": self.outcome,
            "reasons": self.reasons,
        }


# --- The file -------------------------------------------------------------------------------


def check_upload(*, name: str, size: int, content_type: str) -> str | None:
    """Why an upload cannot be a customer CSV, judged before reading it; None if it may be."""
    if size > MAX_UPLOAD_BYTES:
        return (
            f"The file is {size / (1024 * 1024):.1f} MB; at most "
            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB can be imported at once. Split it."
        )
    if size == 0:
        return "The file is empty."
    kind = content_type.split(";")[0].strip().lower()
    suffix = PurePath(name or "").suffix.lower()
    if kind not in CSV_CONTENT_TYPES and suffix != ".csv":
        return f"This is not a CSV file ({kind or 'unknown type'}). Export the extract as CSV."
    return None


def decode(raw: bytes) -> str:
    """The file's text; UTF-8 (with or without a byte-order mark) only."""
    if b"\x00" in raw[:8192]:
        raise CustomerFileError(
            "This is a binary file (a spreadsheet or archive?), not CSV text. "
            "Export the extract as “CSV UTF-8”."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CustomerFileError(
            f"The file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}). "
            "Save it again as “CSV UTF-8” and upload that."
        ) from None


def normalize_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def read_rows(text: str) -> tuple[list[str], list[str], Iterator[tuple[int, list[str]]]]:
    """(columns, unknown columns, (row number, values) for each data row)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CustomerFileError("The file is empty.") from None
    except csv.Error as exc:
        raise CustomerFileError(f"The file is not readable as CSV: {exc}.") from None
    columns = [normalize_header(h) for h in header]
    if len(columns) == 1 and (";" in header[0] or "\t" in header[0]):
        raise CustomerFileError(
            "The columns are separated by semicolons or tabs; the import expects commas."
        )
    if "account_number" not in columns:
        raise CustomerFileError(
            "The header has no account_number column, so this is not a customer extract. "
            f"Expected columns: {', '.join(COLUMNS)}."
        )
    duplicates = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicates:
        raise CustomerFileError(f"Columns named twice: {', '.join(duplicates)}.")
    unknown = [header[i].strip() for i, c in enumerate(columns) if c not in COLUMNS]

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for values in reader:
                if any(v.strip() for v in values):
                    yield reader.line_num, values
        except csv.Error as exc:
            raise CustomerFileError(
                f"The CSV is malformed near line {reader.line_num}: {exc}."
            ) from None

    return columns, unknown, rows()


# --- One row --------------------------------------------------------------------------------


def clean_row(values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The row's known columns as model values, and the reasons it cannot be stored. Blank
    booleans are left out (the default, or what is stored)."""
    cleaned: dict[str, Any] = {}
    reasons: list[str] = []
    for name, raw in values.items():
        value = raw.strip()
        if name in BOOLEAN_COLUMNS:
            word = value.lower()
            if word in TRUE_WORDS:
                cleaned[name] = True
            elif word in FALSE_WORDS:
                cleaned[name] = False
            elif word:
                reasons.append(f"{name}: “{value}” is not yes/no.")
            continue
        if name == "rate_class":
            rate = _RATE_CLASSES.get(value.lower())
            if rate is None and value:
                reasons.append(
                    f"rate_class: “{value}” is not one of "
                    f"{', '.join(ServiceAccount.RateClass.values)}."
                )
            cleaned[name] = rate or ""
            continue
        if len(value) > _MAX_LENGTHS[name]:
            reasons.append(f"{name}: longer than {_MAX_LENGTHS[name]} characters.")
            continue
        if name == "state":
            value = value.upper()
            if value and not _STATE.match(value):
                reasons.append(f"state: “{value}” is not a two-letter state code.")
        elif name == "zip_code" and value and not _ZIP.match(value):
            reasons.append(f"zip_code: “{value}” is not a five-digit ZIP code.")
        elif name == "email" and value:
            try:
                _validate_email(value)
            except ValidationError:
                reasons.append(f"email: “{value}” is not an email address.")
        cleaned[name] = value
    for name in REQUIRED_FOR_NEW:
        if (
            name in values
            and not cleaned.get(name)
            and not any(r.startswith(f"{name}:") for r in reasons)
        ):
            reasons.append(f"{name}: required.")
    return cleaned, reasons


# --- The import -----------------------------------------------------------------------------


def import_customers(
    *,
    utility: Utility,
    raw: bytes,
    filename: str,
    source: str = "upload",
    actor: User | None = None,
) -> CustomerImport:
    """Import ``raw`` (the file's bytes) into ``utility`` (call inside its scope) and keep
    the report. Raises ``CustomerFileError`` for a file that cannot be imported at all."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise CustomerFileError(check_upload(name=filename, size=len(raw), content_type="text/csv"))
    columns, unknown, rows = read_rows(decode(raw))
    known = [(i, c) for i, c in enumerate(columns) if c in COLUMNS]
    missing_for_new = [c for c in REQUIRED_FOR_NEW if c not in columns]

    reports: list[RowReport] = []
    parsed: list[tuple[RowReport, dict[str, Any]]] = []
    first_row_of: dict[str, int] = {}
    for row_number, values in rows:
        account_number = (
            values[columns.index("account_number")].strip()
            if len(values) > columns.index("account_number")
            else ""
        )
        report = RowReport(row=row_number, account_number=account_number, outcome=REJECTED)
        reports.append(report)
        if len(values) != len(columns):
            report.reasons.append(f"{len(values)} values, but the header has {len(columns)}.")
            continue
        cleaned, reasons = clean_row({c: values[i] for i, c in known})
        if not account_number:
            reasons.insert(0, "account_number: required.")
        elif account_number in first_row_of:
            reasons.insert(0, f"Duplicate of row {first_row_of[account_number]}.")
        else:
            first_row_of[account_number] = row_number
        report.reasons = reasons
        if not reasons:
            parsed.append((report, cleaned))

    now = timezone.now()
    try:
        with transaction.atomic():
            _upsert(utility=utility, parsed=parsed, missing_for_new=missing_for_new, now=now)
            counts = {
                o: sum(1 for r in reports if r.outcome == o)
                for o in (IMPORTED, UPDATED, UNCHANGED, REJECTED)
            }
            result = CustomerImport.objects.create(
                utility=utility,
                uploaded_by=actor if actor is not None and actor.is_authenticated else None,
                source=source,
                filename=(filename or "upload.csv")[:255],
                unknown_columns=unknown,
                report=[r.as_dict() for r in reports],
                **counts,
            )
            record(
                action="customer_import.completed",
                utility=utility,
                obj=result,
                actor=actor,
                changes={"filename": result.filename, **counts, "unknown_columns": unknown},
            )
    except IntegrityError:
        raise CustomerFileError(
            "Another import added some of these accounts at the same moment; nothing was "
            "stored. Import the file again."
        ) from None
    return result


def _upsert(
    *,
    utility: Utility,
    parsed: list[tuple[RowReport, dict[str, Any]]],
    missing_for_new: list[str],
    now,
) -> None:
    """Create new accounts, update changed ones, and set each row's outcome."""
    for start in range(0, len(parsed), BULK_CHUNK):
        chunk = parsed[start : start + BULK_CHUNK]
        existing = {
            a.account_number: a
            for a in ServiceAccount.objects.filter(
                account_number__in=[r.account_number for r, _ in chunk]
            )
        }
        new, changed, changed_fields = [], [], set()
        for report, values in chunk:
            account = existing.get(report.account_number)
            if account is None:
                if missing_for_new:
                    report.outcome = REJECTED
                    report.reasons = [
                        f"New account, but the file has no {', '.join(missing_for_new)} column."
                    ]
                    continue
                new.append(
                    ServiceAccount(utility=utility, created_at=now, updated_at=now, **values)
                )
                report.outcome = IMPORTED
                continue
            differs = [name for name, value in values.items() if getattr(account, name) != value]
            if not differs:
                report.outcome = UNCHANGED
                continue
            for name in differs:
                setattr(account, name, values[name])
            account.updated_at = now
            changed.append(account)
            changed_fields.update(differs)
            report.outcome = UPDATED
        ServiceAccount.objects.bulk_create(new, batch_size=1000)
        bulk_update_rows(ServiceAccount, changed, [*sorted(changed_fields), "updated_at"])
        if changed:
            accounts_changed.send(
                sender=ServiceAccount,
                utility_id=utility.pk,
                service_account_ids=[account.pk for account in changed],
            )


REPORT_HEADER = ["row", "account_number", "outcome", "reasons"]


def report_rows(customer_import: CustomerImport) -> Iterator[list[str]]:
    """The report as CSV rows, header first."""
    yield REPORT_HEADER
    for row in customer_import.report:
        yield [str(row["row"]), row["account_number"], row["outcome"], "; ".join(row["reasons"])]


def write_report(customer_import: CustomerImport, out) -> None:
    writer = csv_writer(out)
    for row in report_rows(customer_import):
        writer.writerow(row)
