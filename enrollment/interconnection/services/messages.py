"""Messages between the parties of an application."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from enrollment.interconnection.models import ApplicationMessage, InterconnectionApplication
from enrollment.interconnection.services.errors import InvalidInput, TransitionNotAllowed
from enrollment.interconnection.services.transitions import lock_application
from portal.audit import actor_label, record
from portal.models import User
from portal.tasking import enqueue_on_commit

Application = InterconnectionApplication
Status = Application.Status


MESSAGE_DUPLICATE_WINDOW = timedelta(seconds=10)


def post_message(
    *, application: Application, author: User, party: str, body: str
) -> ApplicationMessage:
    """Add a message to the application's thread and email the other parties on commit.
    A repeat of the author's last text within ``MESSAGE_DUPLICATE_WINDOW`` returns the
    message already posted (a double click posts once). The caller has checked that
    ``author`` speaks for ``party`` on this application."""
    if party not in ApplicationMessage.Party.values:
        raise InvalidInput("Unknown party.")
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write a message first.")
    if len(body) > ApplicationMessage.MAX_LENGTH:
        raise InvalidInput(
            f"A message is at most {ApplicationMessage.MAX_LENGTH} characters "
            f"(this one has {len(body)})."
        )
    with transaction.atomic():
        app = lock_application(application.pk)  # serializes concurrent posts on the thread
        if app.status == Status.DRAFT:
            raise TransitionNotAllowed(
                "Messages go to the utility and the AHJ once the application is submitted."
            )
        now = timezone.now()
        duplicate = (
            ApplicationMessage.objects.filter(
                application=app,
                author=author,
                party=party,
                body=body,
                created_at__gte=now - MESSAGE_DUPLICATE_WINDOW,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if duplicate is not None:
            return duplicate
        message = ApplicationMessage.objects.create(
            utility_id=app.utility_id,
            application=app,
            author=author,
            author_label=actor_label(user=author),
            party=party,
            body=body,
            created_at=now,
        )
        record(
            action="interconnection.message_posted",
            utility=app.utility,
            obj=app,
            actor=author,
            changes={"message_id": message.pk, "party": party, "length": len(body)},
        )
        from enrollment.interconnection.tasks import notify_message

        enqueue_on_commit(notify_message, utility_id=app.utility_id, message_id=message.pk)
    return message
