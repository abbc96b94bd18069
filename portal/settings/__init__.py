"""Settings for the V2X program portal, read from the environment (12-factor): the core in
``base`` (its docstring says how DEBUG and production differ), the partner API in ``api``."""

from portal.settings.api import *  # noqa: E402, F403
from portal.settings.base import *  # noqa: F403
