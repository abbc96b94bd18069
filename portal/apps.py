from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal (tenancy, identity, audit)"

    def ready(self) -> None:
        from portal.identity import receivers

        receivers.connect()


class PortalAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the portal's site: allauth sign-in, second factor,
    every change audited (``portal.admin_site``). Named in INSTALLED_APPS in its place."""

    default = False  # the app "portal" itself is PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"
