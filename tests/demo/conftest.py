from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings

from tests.conftest import FAST_PASSWORD_HASHERS


@pytest.fixture(scope="module")
def demo_world(django_db_setup, django_db_blocker) -> str:
    """``seed_demo``'s output. The demo is seeded once per test session: every test of the
    seeded world lives in tests/demo/test_seed_demo.py, and this module-scoped seed runs
    inside a transaction rolled back after its last test (the package holds transactional
    tests too, which a longer-lived open transaction would block). Each test runs in a
    savepoint of it, so what one test changes the next does not see."""
    # The tests' fast hasher (tests/conftest.py) for the seed too: secrets it hashes are
    # checked again inside the tests.
    fast = override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS)
    with django_db_blocker.unblock(), fast, transaction.atomic():
        out = StringIO()
        call_command("seed_demo", stdout=out)
        with connection.cursor() as cursor:
            # Check the seed's deferred foreign keys now: a table with pending trigger events
            # cannot be altered, and each test switches the audit table's guard on.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
        yield out.getvalue()
        transaction.set_rollback(True)
