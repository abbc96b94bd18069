"""The demo: fictional utilities with their customers, programs, fleet, events and grid
operator, the commands that seed them and run the whole portal on a laptop (``seed_demo``,
``run_portal``, ``run_demo_vtn``, ``demo_totp``).

It sits above every other app and nothing imports it (import-linter checks both): the
product never depends on demo data."""
