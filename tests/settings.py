"""Settings for the test suite: the project's settings with the development defaults a test
run needs (``DEBUG`` on at import, so no production secrets are required; pytest-django still
runs each test with ``DEBUG`` off), set in the environment so the real worker, VEN and web
processes the tests start inherit them too."""

import os

os.environ.setdefault("DEBUG", "true")

from portal.settings import *  # noqa: E402, F403
