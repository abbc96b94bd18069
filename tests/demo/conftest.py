from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction


@pytest.fixture(scope="module")
def demo_world(django_db_setup, django_db_blocker) -> str:
    """The demo, seeded once for a whole test module (``seed_demo``'s output): inside a
    transaction that is rolled back after the module's last test. Each test runs in a
    savepoint of it, so what one test changes the next does not see."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)
