"""Deficiencies: the utility's "needs information" rounds and the AHJ's corrections, each
item with the reviewer's comment, and the installer's answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from enrollment.interconnection.models import (
    ApplicationDocument,
    ApplicationTransition,
    Deficiency,
    DeficiencyItem,
    InterconnectionApplication,
)
from enrollment.interconnection.services.documents import store_document
from enrollment.interconnection.services.errors import InvalidInput, StaleState
from enrollment.interconnection.services.transitions import apply_transition, lock_application
from portal.models import User

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus
Track = ApplicationTransition.Track
Kind = ApplicationDocument.Kind


@dataclass(frozen=True)
class DeficiencyItemInput:
    topic: str
    comment: str
    document_kind: str = ""


def raise_deficiency(
    app: Application, *, track: str, items: Sequence[DeficiencyItemInput], actor: User
) -> Deficiency:
    items = [i for i in items if i.comment.strip()]
    if not items:
        raise InvalidInput("Add at least one item with a comment saying what is needed.")
    for item in items:
        if item.topic not in DeficiencyItem.Topic.values:
            raise InvalidInput("Choose a topic for each item.")
        if item.document_kind and item.document_kind not in Kind.values:
            raise InvalidInput("Unknown document kind.")
        if item.topic == DeficiencyItem.Topic.DOCUMENT and not item.document_kind:
            raise InvalidInput("Say which document each document item asks for.")
    deficiency = Deficiency.objects.create(
        utility_id=app.utility_id, application=app, track=track, raised_by=actor
    )
    DeficiencyItem.objects.bulk_create(
        DeficiencyItem(
            utility_id=app.utility_id,
            deficiency=deficiency,
            topic=item.topic,
            document_kind=item.document_kind,
            comment=item.comment.strip(),
        )
        for item in items
    )
    return deficiency


@dataclass(frozen=True)
class AnswerInput:
    item_id: int
    response: str
    upload: UploadedFile | None = None


def answer_deficiency(
    *, application: Application, answers: Sequence[AnswerInput], actor: User
) -> Deficiency:
    """Answer every item of the open deficiency (a comment, a re-uploaded document, or
    both; an item asking for a document only by a new version of it); the track goes back where it was and its clock resumes. All or nothing: a bad
    file leaves every answer unsaved so the installer can fix it and send again."""
    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        deficiency = (
            Deficiency.objects.filter(application=app, answered_at__isnull=True)
            .order_by("created_at")
            .first()
        )
        if deficiency is None:
            raise StaleState("There is no open deficiency to answer; it was answered already.")
        items = {item.pk: item for item in deficiency.items.all()}
        by_item = {a.item_id: a for a in answers if a.item_id in items}
        unanswered = [
            item.comment[:60]
            for pk, item in items.items()
            if pk not in by_item or not (by_item[pk].response.strip() or by_item[pk].upload)
        ]
        if unanswered:
            raise InvalidInput("Answer every item (a comment or a file): " + "; ".join(unanswered))
        without_document = [
            item.comment[:60]
            for pk, item in items.items()
            if item.needs_document and not by_item[pk].upload
        ]
        if without_document:
            raise InvalidInput(
                "These items ask for a new version of a document; upload it: "
                + "; ".join(without_document)
            )
        for pk, item in items.items():
            answer = by_item[pk]
            item.response = answer.response.strip()
            if answer.upload is not None:
                item.response_document = store_document(
                    app=app,
                    kind=item.document_kind or Kind.OTHER,
                    upload=answer.upload,
                    actor=actor,
                )
        DeficiencyItem.objects.bulk_update(list(items.values()), ["response", "response_document"])
        deficiency.answered_at = now
        deficiency.answered_by = actor
        deficiency.save(update_fields=["answered_at", "answered_by"])
        if deficiency.track == Track.UTILITY:
            back_to = app.status_before_info or Status.COMPLETENESS_REVIEW
            app.status_before_info = ""
            apply_transition(
                app, track=Track.UTILITY, to=back_to, action="information_provided",
                actor=actor, now=now, extra_fields=("status_before_info",),
            )  # fmt: skip
        else:
            apply_transition(
                app, track=Track.AHJ, to=Permit.PERMIT_REVIEW, action="corrections_provided",
                actor=actor, now=now,
            )  # fmt: skip
    return deficiency
