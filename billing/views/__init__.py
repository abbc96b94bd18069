"""Billing pages under /u/<utility_slug>/, one module per area: ``tariffs`` (tariff list,
import, heat maps, assignments), ``meter`` (meter data imports and an account's meter data),
``impact`` (the program dashboard, the customer statement), ``settlement`` (runs, review,
exports, disputes)."""
