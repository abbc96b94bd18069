"""A real Celery worker (autodiscovery as in production, the configured broker) sends an
interconnection transition's emails: the fan-out and one send task per address."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django_scopes import scope, scopes_disabled

from enrollment.interconnection import services
from enrollment.interconnection.models import ApplicationNotification, ApplicationTransition
from portal.celery import app as celery_app
from tests.interconnection.factories import draft, make_site
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _tasks_run_inline():
    """Overrides the package's eager tasks: here they go to the broker and a worker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = previous


def test_a_real_worker_emails_every_party_of_a_transition(utility_a, tmp_path: Path):
    site = make_site(utility_a)
    app = draft(site)
    mail_dir = tmp_path / "mail"
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "SITE_URL": "https://portal.example.test",
    }
    with celery_worker(extra_env=env, name="ic-mail") as worker:
        with scope(utility=site.utility.pk):
            services.submit(application=app, actor=site.installer_user)
            assert not connection.in_atomic_block  # committed: the tasks are on the broker

        def all_sent():
            with scopes_disabled():
                transition = ApplicationTransition.objects.get(action="submitted")
                rows = ApplicationNotification.objects.filter(transition=transition)
                return rows.exists() and not rows.filter(sent_at__isnull=True).exists()

        wait_for(all_sent, timeout=90, message="the worker never sent the transition's emails")
        log = worker.log_path.read_text()
    assert "KeyError" not in log and "unregistered task" not in log.lower()
    mails = [p.read_text() for p in sorted(mail_dir.iterdir())]
    recipients = {line for text in mails for line in text.splitlines() if line.startswith("To: ")}
    assert recipients >= {
        f"To: {site.installer_user.email}",
        f"To: {site.ahj_user.email}",
        f"To: {site.engineer.email}",
    }
    assert any("now “Submitted”" in text for text in mails)
    assert any("https://portal.example.test/u/" in text for text in mails)
