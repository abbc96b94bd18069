import os

import pytest
from django.conf import settings


def pytest_configure(config):
    # When CI points us at PostgreSQL, never quietly test on SQLite instead.
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres", "pgsql")):
        assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), (
            "DATABASE_URL names PostgreSQL but Django is not using it"
        )


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def utility_a(db):
    from tests.factories import UtilityFactory

    return UtilityFactory(name="Alpha Power", slug="alpha", time_zone="America/Los_Angeles")


@pytest.fixture
def utility_b(db):
    from tests.factories import UtilityFactory

    return UtilityFactory(name="Bravo Electric", slug="bravo", time_zone="America/Denver")
