"""Partner API clients: issuing client credentials, and what a client's token may reach.

A partner's client may act in a utility only while both hold: the utility is one of the
client's (``PartnerClient.utilities``) and the partner's agreement with it is active. That is
computed afresh on every request, so ending or suspending an agreement cuts access on the
partner's next call, without revoking tokens.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify
from django_scopes import scope, scopes_disabled
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AbstractApplication, AccessToken, get_application_model
from oauth2_provider.settings import oauth2_settings

from portal.audit import record
from portal.errors import DomainError
from portal.models import AutomakerPartner, PartnerAgreement, PartnerClient, User, Utility


class PartnerClientError(DomainError):
    """A refused partner-client action."""


@dataclass(frozen=True)
class PartnerAccess:
    """Who an API request speaks for and where it may act, resolved from its access token."""

    partner: AutomakerPartner
    client_id: str
    scopes: frozenset[str]
    utilities: tuple[Utility, ...]

    @property
    def utility_ids(self) -> list[int]:
        # A list, never None: ``scope(utility=None)`` would switch tenant filtering off.
        return [utility.pk for utility in self.utilities]

    @property
    def audit_actor(self) -> dict[str, str]:
        """Keyword arguments naming this client as the actor of ``portal.audit.record``."""
        return {"client_id": self.client_id, "partner_name": self.partner.name}


def configured_scopes() -> frozenset[str]:
    return frozenset(oauth2_settings.SCOPES)


def allowed_scopes(application: AbstractApplication) -> frozenset[str]:
    """Scopes a client may be granted: those recorded for it when it was created, still
    configured. An application that is not a partner's client gets none."""
    client = PartnerClient.objects.filter(application_id=application.pk).first()
    if client is None:
        return frozenset()
    return frozenset(client.allowed_scopes) & configured_scopes()


def partner_access_for(token: AccessToken) -> PartnerAccess | None:
    """The access of a valid token, or None when its client is not a partner's client."""
    client = (
        PartnerClient.objects.select_related("partner", "application")
        .filter(application_id=token.application_id)
        .first()
    )
    if client is None:
        return None
    with scopes_disabled():  # explicitly filtered on this partner and the client's utilities
        active_in = PartnerAgreement.objects.filter(
            partner_id=client.partner_id, status=PartnerAgreement.Status.ACTIVE
        ).values("utility_id")
        utilities = tuple(client.utilities.filter(pk__in=active_in).order_by("name"))
    return PartnerAccess(
        partner=client.partner,
        client_id=client.application.client_id,
        scopes=frozenset(token.scope.split()),
        utilities=utilities,
    )


@dataclass(frozen=True)
class IssuedCredentials:
    """A new client and its secret. The secret is stored hashed: this is the only copy."""

    partner_client: PartnerClient
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


@transaction.atomic
def create_partner_client(
    *,
    partner_name: str,
    utility_slugs: Sequence[str],
    scopes: Collection[str] | None = None,
    reactivate: bool = False,
    actor: User | None = None,
) -> IssuedCredentials:
    """Create a client-credentials client for a partner (creating the partner if new) that
    may act in the given utilities, ensuring an active agreement with each.

    An ended or suspended agreement is refused unless ``reactivate``: issuing credentials
    must not quietly restore a relationship someone deliberately ended. ``scopes`` defaults
    to every configured scope.
    """
    granted = _checked_scopes(scopes)
    utilities = _utilities_by_slug(utility_slugs)
    partner = _partner_named(partner_name, actor=actor)
    with scope(utility=[utility.pk for utility in utilities]):
        _ensure_active_agreements(
            partner=partner, utilities=utilities, reactivate=reactivate, actor=actor
        )

    secret = generate_client_secret()
    application = get_application_model()(
        name=f"{partner.name} API client",
        client_type=AbstractApplication.CLIENT_CONFIDENTIAL,
        authorization_grant_type=AbstractApplication.GRANT_CLIENT_CREDENTIALS,
        hash_client_secret=True,
        client_secret=secret,  # hashed on save
    )
    application.full_clean()
    application.save()
    partner_client = PartnerClient.objects.create(
        partner=partner, application=application, allowed_scopes=sorted(granted)
    )
    partner_client.utilities.set(utilities)

    changes: dict[str, Any] = {
        "client_id": application.client_id,
        "scopes": sorted(granted),
        "utilities": [utility.slug for utility in utilities],
    }
    for utility in utilities:
        record(
            action="partner_client.created",
            utility=utility,
            obj=partner_client,
            actor=actor,
            changes=changes,
        )
    return IssuedCredentials(
        partner_client=partner_client,
        client_id=application.client_id,
        client_secret=secret,
        scopes=tuple(sorted(granted)),
    )


def _checked_scopes(scopes: Collection[str] | None) -> frozenset[str]:
    known = configured_scopes()
    if scopes is None:
        return known
    unknown = set(scopes) - known
    if unknown:
        raise PartnerClientError(
            f"Unknown scope(s): {', '.join(sorted(unknown))}. "
            f"Known scopes: {', '.join(sorted(known))}."
        )
    if not scopes:
        raise PartnerClientError("Give at least one scope.")
    return frozenset(scopes)


def _utilities_by_slug(slugs: Sequence[str]) -> list[Utility]:
    if not slugs:
        raise PartnerClientError("Give at least one utility.")
    found = {utility.slug: utility for utility in Utility.objects.filter(slug__in=slugs)}
    missing = sorted(set(slugs) - found.keys())
    if missing:
        raise PartnerClientError(f"No utility with slug(s): {', '.join(missing)}.")
    return sorted(found.values(), key=lambda utility: utility.name)


def _partner_named(name: str, *, actor: User | None) -> AutomakerPartner:
    name = name.strip()
    slug = slugify(name)[:60]
    if not slug:
        raise PartnerClientError(f"{name!r} is not a usable partner name.")
    partner = AutomakerPartner.objects.filter(Q(name__iexact=name) | Q(slug=slug)).first()
    if partner is None:
        partner = AutomakerPartner.objects.create(name=name, slug=slug)
        record(action="partner.created", utility=None, obj=partner, actor=actor)
    return partner


def _ensure_active_agreements(
    *,
    partner: AutomakerPartner,
    utilities: Sequence[Utility],
    reactivate: bool,
    actor: User | None,
) -> None:
    """Runs inside a scope of exactly ``utilities``."""
    existing = {
        agreement.utility_id: agreement
        for agreement in PartnerAgreement.objects.select_for_update(of=("self",))
        .filter(partner=partner)
        .select_related("utility")
    }
    inactive = [
        agreement
        for agreement in existing.values()
        if agreement.status != PartnerAgreement.Status.ACTIVE
    ]
    if inactive and not reactivate:
        listed = ", ".join(f"{a.utility.slug} ({a.status})" for a in inactive)
        raise PartnerClientError(
            f"{partner.name}'s agreement is not active in: {listed}. "
            "Pass --reactivate to make it active again."
        )
    for agreement in inactive:
        _reactivate(agreement, actor=actor)
    for utility in utilities:
        if utility.pk not in existing:
            agreement = PartnerAgreement.objects.create(utility=utility, partner=partner)
            record(
                action="partner_agreement.created",
                utility=utility,
                obj=agreement,
                actor=actor,
                to_state=agreement.status,
            )


def _reactivate(agreement: PartnerAgreement, *, actor: User | None) -> None:
    from_state = agreement.status
    agreement.status = PartnerAgreement.Status.ACTIVE
    agreement.ends_on = None
    agreement.save(update_fields=["status", "ends_on"])
    record(
        action="partner_agreement.reactivated",
        utility=agreement.utility,
        obj=agreement,
        actor=actor,
        from_state=from_state,
        to_state=agreement.status,
    )
