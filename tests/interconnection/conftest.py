import pytest


@pytest.fixture(autouse=True)
def _tasks_run_inline(settings, eager_tasks):
    """Notification tasks run when their transaction commits, in this process."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
