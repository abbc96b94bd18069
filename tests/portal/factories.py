"""Factories for the tenancy core: utilities, users, organizations (installers, AHJs,
automakers), partner agreements, approvals and territories, and membership helpers.
Tenant-owned factories create rows with scopes disabled, so tests can set up several
utilities at once."""

from __future__ import annotations

import factory
from django_scopes import scopes_disabled

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


def make_member(role: str, *, utility=None, installer=None, ahj=None, user=None) -> User:
    """A user holding ``role`` in the given organization (created if not given)."""
    user = user or UserFactory()
    Membership.objects.create(user=user, role=role, utility=utility, installer=installer, ahj=ahj)
    if hasattr(user, "_portal_memberships"):
        del user._portal_memberships
    return user
