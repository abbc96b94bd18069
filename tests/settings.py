"""Settings for the test suite: the project's settings with the development defaults a test
run needs (``DEBUG`` on at import, so no production secrets are required; pytest-django still
runs each test with ``DEBUG`` off), set in the environment so the real worker, VEN and web
processes the tests start inherit them too."""

import os

os.environ.setdefault("DEBUG", "true")
# The tests' own peers (fleet simulators, VTNs, partner doubles) listen on loopback ports the
# system picks; the blocked ports (database, broker) stay refused, and the tests of the
# allow-list itself set their own.
os.environ.setdefault("ADAPTER_ALLOWED_HOSTS", "127.0.0.1:*,localhost:*,[::1]:*")

from portal.settings import *  # noqa: E402, F403
