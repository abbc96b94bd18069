"""A fleet simulator that behaves like an automaker cloud (see ``runtime`` and the
``run_fleet_simulator`` command)."""
