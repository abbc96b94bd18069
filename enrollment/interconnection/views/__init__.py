"""Interconnection pages for the three parties of one shared application, one module per
party: the utility, the installer company and the AHJ (what they share is in ``base``).

Utility pages live under /u/<utility_slug>/ (the middleware scopes them; each view declares
its capability). Installer and AHJ pages work across utilities: they find the application
with ``scopes_disabled()`` through an explicit filter on the company or jurisdiction (anything
else is 404), then act and render inside that application's utility scope.

A refused action re-renders the page with the reason and the input kept; a successful one
redirects (so a reload does not repeat it), and a second click finds the state moved on.
"""
