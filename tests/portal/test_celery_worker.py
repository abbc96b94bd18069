"""A real Celery worker process, on the configured broker (Redis in CI), runs a tenant task
end to end: an installer's public access request reaches the utility's program admins."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from django_scopes import scope

from portal.models import AccessRequest, AuditEvent
from portal.roles import Role
from tests.portal.factories import UserFactory, make_member
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_it_notifies_program_admins_through_a_real_worker(client, utility_a, tmp_path: Path):
    admin = make_member(
        Role.PROGRAM_ADMIN, utility=utility_a, user=UserFactory(email="admin@alpha.test")
    )
    mail_dir = tmp_path / "mail"
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "SITE_URL": "https://portal.example.test",
    }
    with celery_worker(extra_env=env):
        response = client.post(
            reverse("request_access"),
            {
                "company_name": "Volt Brothers Electric",
                "license_state": "CA",
                "license_number": "C10-998877",
                "contact_name": "Dana Volt",
                "contact_email": "dana@voltbrothers.test",
                "utility": utility_a.pk,
                "message": "We install bidirectional chargers in your territory.",
            },
        )
        assert response.status_code == 302

        def notified():
            with scope(utility=utility_a.pk):
                return AuditEvent.objects.filter(action="access_request.notified").first()

        event = wait_for(notified, timeout=60, message="the worker never sent the notification")

    with scope(utility=utility_a.pk):
        access_request = AccessRequest.objects.get()
    assert event.object_id == str(access_request.pk)
    assert event.changes["recipients"] == [admin.email]
    # The request that enqueued the task is the request the worker's audit row belongs to.
    assert event.request_id == response["X-Request-ID"]
    mails = [p.read_text() for p in mail_dir.iterdir()]
    assert len(mails) == 1
    assert "To: admin@alpha.test" in mails[0]
    assert "Volt Brothers Electric" in mails[0]
    assert f"https://portal.example.test/u/alpha/access-requests/{access_request.pk}/" in mails[0]
