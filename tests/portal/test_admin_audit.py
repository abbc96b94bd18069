"""Every change made in the admin site lands in the append-only audit trail: the object, the
action and the fields changed (from, to), in the object's utility; never a password."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse
from django_scopes import scopes_disabled

from portal.models import AHJ, AuditEvent, Membership
from portal.roles import Role
from tests.portal.factories import AHJFactory, make_member

pytestmark = pytest.mark.django_db


def form_data(response) -> dict:
    """What the admin's change page would post back unchanged: its form and inline forms."""
    data: dict = {}
    forms_on_page = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update(
            {management[name].html_name: management[name].value() for name in management.fields}
        )
        forms_on_page.extend(formset.forms)
    for form in forms_on_page:
        for bound in form:
            value = bound.value()
            widget = bound.field.widget
            if isinstance(widget, forms.MultiWidget):
                parts = widget.decompress(value)
                data.update({f"{bound.html_name}_{i}": v or "" for i, v in enumerate(parts)})
            elif isinstance(bound.field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value
    return {key: value for key, value in data.items() if value is not None}


def rows(action: str):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_promoting_a_membership_leaves_an_audit_row(admin_client, admin_user, utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    membership = Membership.objects.get(user=analyst)
    url = reverse("admin:portal_membership_change", args=[membership.pk])
    data = {**form_data(admin_client.get(url)), "role": Role.PROGRAM_ADMIN}

    response = admin_client.post(url, data)

    assert response.status_code == 302
    [row] = rows("admin.changed")
    assert (row.utility_id, row.actor_user_id) == (utility_a.pk, admin_user.pk)
    assert (row.object_type, row.object_id) == ("portal.membership", str(membership.pk))
    assert (row.from_state, row.to_state) == (Role.PROGRAM_ANALYST, Role.PROGRAM_ADMIN)
    assert row.changes["fields"] == {
        "role": {"from": Role.PROGRAM_ANALYST, "to": Role.PROGRAM_ADMIN}
    }
    assert "Changed Role" in row.comment


def test_a_change_made_through_an_inline_is_audited_in_its_own_utility(admin_client, utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    membership = Membership.objects.get(user=analyst)
    url = reverse("admin:portal_user_change", args=[analyst.pk])
    data = form_data(admin_client.get(url))
    [role_field] = [k for k, v in data.items() if k.endswith("-role")]
    data[role_field] = Role.PROGRAM_ADMIN

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    user_row, membership_row = rows("admin.changed")
    assert (user_row.object_type, user_row.utility_id) == ("portal.user", None)
    assert user_row.changes["inlines"][0]["object_type"] == "portal.membership"
    assert (membership_row.object_id, membership_row.utility_id) == (
        str(membership.pk),
        utility_a.pk,
    )
    assert membership_row.to_state == Role.PROGRAM_ADMIN


def test_adding_and_deleting_several_are_audited(admin_client):
    response = admin_client.post(
        reverse("admin:portal_ahj_add"),
        {"name": "City of Riverside", "slug": "riverside", "jurisdiction": "Riverside, CA"},
    )
    assert response.status_code == 302
    [added] = rows("admin.added")
    assert added.object_repr == "City of Riverside"
    assert added.changes["fields"]["name"] == {"from": None, "to": "City of Riverside"}

    others = [AHJFactory(), AHJFactory()]
    response = admin_client.post(
        reverse("admin:portal_ahj_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [a.pk for a in others],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not AHJ.objects.filter(pk__in=[a.pk for a in others]).exists()
    assert sorted(row.object_id for row in rows("admin.deleted")) == sorted(
        str(a.pk) for a in others
    )


def test_a_password_set_in_the_admin_is_audited_but_never_written(admin_client, utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    new_password = "a-brand-new-passphrase-42"
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[analyst.pk]),
        {"password1": new_password, "password2": new_password, "usable_password": "true"},
    )
    assert response.status_code == 302
    [row] = rows("admin.changed")
    assert row.object_id == str(analyst.pk)
    assert new_password not in str(row.changes) and new_password not in row.comment
    assert row.changes["fields"] == {"password": "[redacted]"}


def test_a_refused_change_leaves_no_row(admin_client, utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    membership = Membership.objects.get(user=analyst)
    url = reverse("admin:portal_membership_change", args=[membership.pk])
    data = {**form_data(admin_client.get(url)), "role": "not-a-role"}
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, with its error
    assert rows("admin.changed") == []
