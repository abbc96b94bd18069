from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings


@pytest.fixture(scope="module")
def demo_world(django_db_setup, django_db_blocker) -> str:
    """The demo, seeded once for a whole test module (``seed_demo``'s output): inside a
    transaction that is rolled back after the module's last test. Each test runs in a
    savepoint of it, so what one test changes the next does not see."""
    # The tests' fast hasher (tests/conftest.py) for the seed too: secrets it hashes are
    # checked again inside the tests.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        out = StringIO()
        call_command("seed_demo", stdout=out)
        with connection.cursor() as cursor:
            # Check the seed's deferred foreign keys now: a table with pending trigger events
            # cannot be altered, and each test switches the audit table's guard on.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        yield out.getvalue()
        transaction.set_rollback(True)
