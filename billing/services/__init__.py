"""Billing writes, one module per area: ``meter`` (meter data imports), ``impact`` (a
settlement chunk's lines), ``settlement`` (runs, their review and export, disputes),
``errors`` (refused settlement actions)."""
