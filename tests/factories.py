"""Factories for the tenancy core. Tenant-owned factories create rows with scopes disabled,
so tests can set up several utilities at once."""

from __future__ import annotations

import factory
from django_scopes import scopes_disabled

from portal.customers.models import ServiceAccount
from portal.models import (
    AHJ,
    AHJTerritory,
    AutomakerPartner,
    InstallerApproval,
    InstallerCompany,
    Membership,
    PartnerAgreement,
    User,
    Utility,
)
from portal.roles import Role

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class ScopelessFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


class UtilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Utility
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Utility {n}")
    slug = factory.Sequence(lambda n: f"utility-{n}")
    time_zone = "America/Los_Angeles"
    service_territory = "Test territory"
    territory_zip_codes = factory.LazyFunction(lambda: ["94110", "94111"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        # allauth requires a verified address to sign in ("mandatory" verification).
        if create:
            from allauth.account.models import EmailAddress

            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class InstallerCompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InstallerCompany

    name = factory.Sequence(lambda n: f"Installer Co {n}")
    slug = factory.Sequence(lambda n: f"installer-{n}")
    license_number = factory.Sequence(lambda n: f"C10-{100000 + n}")


class AHJFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AHJ

    name = factory.Sequence(lambda n: f"City {n} Building Dept")
    slug = factory.Sequence(lambda n: f"ahj-{n}")
    jurisdiction = factory.Sequence(lambda n: f"City {n}, CA")


class AutomakerPartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutomakerPartner
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Automaker {n}")
    slug = factory.Sequence(lambda n: f"automaker-{n}")


class PartnerAgreementFactory(ScopelessFactory):
    class Meta:
        model = PartnerAgreement

    utility = factory.SubFactory(UtilityFactory)
    partner = factory.SubFactory(AutomakerPartnerFactory)


class InstallerApprovalFactory(ScopelessFactory):
    class Meta:
        model = InstallerApproval

    utility = factory.SubFactory(UtilityFactory)
    installer = factory.SubFactory(InstallerCompanyFactory)


class AHJTerritoryFactory(ScopelessFactory):
    class Meta:
        model = AHJTerritory

    utility = factory.SubFactory(UtilityFactory)
    ahj = factory.SubFactory(AHJFactory)


class ServiceAccountFactory(ScopelessFactory):
    class Meta:
        model = ServiceAccount

    utility = factory.SubFactory(UtilityFactory)
    account_number = factory.Sequence(lambda n: f"{1000000000 + n}")
    customer_name = factory.Faker("name")
    premise_address = factory.Faker("street_address")
    city = "San Francisco"
    state = "CA"
    zip_code = "94110"
    meter_id = factory.Sequence(lambda n: f"M{500000 + n}")
    rate_class = ServiceAccount.RateClass.RESIDENTIAL_EV


def make_member(role: str, *, utility=None, installer=None, ahj=None, user=None) -> User:
    """A user holding ``role`` in the given organization (created if not given)."""
    user = user or UserFactory()
    Membership.objects.create(user=user, role=role, utility=utility, installer=installer, ahj=ahj)
    if hasattr(user, "_portal_memberships"):
        del user._portal_memberships
    return user


__all__ = ["Role", "make_member"]


class ChargerFactory(ScopelessFactory):
    class Meta:
        model = "devices.Charger"

    utility = factory.SubFactory(UtilityFactory)
    maker = "Wallbox"
    model = "Quasar 2"
    serial = factory.Sequence(lambda n: f"WBX{200000 + n}")
    current_type = "dc"
    max_charge_kw = 11.5
    max_discharge_kw = 11.5
    backup_capable = True
    cert_ul9741 = True
    cert_ul1741_sb = True


def _vin(n: int) -> str:
    from devices.vin import with_check_digit

    return with_check_digit(f"1FTVW1EL0NW{n:06d}")


class VehicleFactory(ScopelessFactory):
    class Meta:
        model = "devices.Vehicle"

    utility = factory.SubFactory(UtilityFactory)
    vin = factory.Sequence(_vin)
    partner = factory.SubFactory(AutomakerPartnerFactory)
    partner_vehicle_id = factory.Sequence(lambda n: f"veh-{n}")
    model = "F-150 Lightning"
    model_year = 2024
    usable_battery_kwh = 131
    supports_v1g = True
    supports_v2h = True
    supports_v2g = True
    max_charge_kw = 19.2
    max_discharge_kw = 9.6
