import pytest

from portal.celery import app as celery_app


@pytest.fixture(autouse=True)
def _tasks_run_inline(settings, tmp_path):
    """Notification tasks run when their transaction commits, in this process, and files
    go to a throwaway media folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager
