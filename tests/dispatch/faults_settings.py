"""Settings for the worker processes of the dispatch fault tests: the portal's own, with an
in-flight lease of seconds instead of minutes, so that a command a killed worker left ``sent``
is delivered again within the test. (The other adapter knobs — retry backoff, circuit
threshold and cool-down — are read from the environment by ``portal.settings`` already.)"""

from portal.settings import *  # noqa: F403

# Longer than any call of the tests can take (their webhook timeout is 3 s).
ADAPTER_IN_FLIGHT_LEASE_SECONDS = 5
