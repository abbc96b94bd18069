"""Device pages under /u/<utility_slug>/: vehicles and chargers (lists and details with the
effective limits and a 48-hour telemetry chart), the approved equipment list and battery
policies (admins edit, every change audited), and a partner agreement's adapter health.

Objects are looked up through the scoped default managers, so another utility's id is a
404 without any check here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import CreateView, DeleteView, DetailView, ListView, UpdateView

from devices import selectors
from devices.charts import telemetry_chart
from devices.filters import ChargerFilter, VehicleFilter
from devices.forms import ApprovedEquipmentForm, BatteryPolicyForm
from portal.audit import record
from portal.models import PartnerAgreement
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin

CHART_HOURS = 48

# --- Audited writes -------------------------------------------------------------------------


def snapshot(obj: models.Model, *, fields: list[str]) -> dict[str, Any]:
    """The named fields of ``obj`` as JSON-ready values (related objects by their name)."""
    values = {}
    for name in fields:
        value = getattr(obj, name)
        values[name] = str(value) if isinstance(value, models.Model) else value
    return values


def save_with_audit(*, form, action_prefix: str, utility, actor, before: dict | None):
    """Save a validated model form for ``utility`` and record what changed: every field when
    created, ``{"from": …, "to": …}`` per changed field when edited (``before`` given)."""
    fields = list(form.fields)
    with transaction.atomic():
        obj = form.save(commit=False)
        obj.utility = utility
        obj.save()
        after = snapshot(obj, fields=fields)
        if before is None:
            action, changes = f"{action_prefix}.created", after
        else:
            action = f"{action_prefix}.updated"
            changes = {
                k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v
            }
        record(action=action, utility=utility, obj=obj, actor=actor, changes=changes)
    return obj


def delete_with_audit(*, obj: models.Model, action: str, utility, actor, fields: list[str]) -> None:
    with transaction.atomic():
        changes = snapshot(obj, fields=fields)
        record(action=action, utility=utility, obj=obj, actor=actor, changes=changes)
        obj.delete()


class AuditedFormMixin:
    """Create and edit pages for a utility's row: the form gets the utility, the save is
    audited, and a constraint that slips past the form's checks (two people saving the same
    row at once) becomes a form error instead of an error page."""

    action_prefix: str
    success_url_name: str
    integrity_message = "This conflicts with an existing entry; please check and try again."

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def get_object(self, queryset=None):
        obj = super().get_object(queryset)
        self.before = snapshot(obj, fields=list(self.form_class.base_fields))
        return obj

    def form_valid(self, form):
        try:
            self.object = save_with_audit(
                form=form,
                action_prefix=self.action_prefix,
                utility=self.request.utility,
                actor=self.request.user,
                before=getattr(self, "before", None),
            )
        except IntegrityError:
            form.add_error(None, self.integrity_message)
            return self.form_invalid(form)
        messages.success(self.request, f"Saved “{self.object}”.")
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self):
        return reverse(self.success_url_name, args=[self.request.utility.slug])


# --- Vehicles -------------------------------------------------------------------------------


class VehicleListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_DEVICES
    filterset_class = VehicleFilter
    template_name = "devices/vehicle_list.html"
    paginate_by = 50

    def base_queryset(self):
        return selectors.vehicles()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_view_customers=self.request.access.can(Cap.VIEW_CUSTOMERS), **kwargs
        )


class VehicleDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_DEVICES
    template_name = "devices/vehicle_detail.html"
    context_object_name = "vehicle"

    def get_queryset(self):
        return selectors.vehicle_with_details()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        vehicle = self.object
        now = timezone.now()
        tz = self.request.utility.tzinfo
        points, minutes = selectors.telemetry_series(vehicle=vehicle, until=now, hours=CHART_HOURS)
        ctx.update(
            limits=selectors.explained_limits(vehicle=vehicle, at=timezone.localtime(now, tz)),
            chart=telemetry_chart(
                points=points,
                start=now - timedelta(hours=CHART_HOURS),
                end=now,
                interval_minutes=minutes,
                tz=tz,
                subject=vehicle.vin,
            ),
            commands=selectors.recent_commands(vehicle=vehicle),
            opt_outs=selectors.recent_opt_outs(vehicle=vehicle),
            can_view_customers=self.request.access.can(Cap.VIEW_CUSTOMERS),
            can_manage=self.request.access.can(Cap.MANAGE_EQUIPMENT),
        )
        return ctx


# --- Chargers -------------------------------------------------------------------------------


class ChargerListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_DEVICES
    filterset_class = ChargerFilter
    template_name = "devices/charger_list.html"
    paginate_by = 50

    def base_queryset(self):
        return selectors.chargers()


class ChargerDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_DEVICES
    template_name = "devices/charger_detail.html"
    context_object_name = "charger"

    def get_queryset(self):
        return selectors.chargers()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            vehicles=selectors.vehicles_on_charger(charger=self.object),
            can_view_customers=self.request.access.can(Cap.VIEW_CUSTOMERS),
            **kwargs,
        )


# --- Approved equipment ---------------------------------------------------------------------


class ApprovedEquipmentListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_DEVICES
    template_name = "devices/approved_equipment_list.html"
    context_object_name = "pairs"
    paginate_by = 50

    def get_queryset(self):
        return selectors.approved_equipment()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage=self.request.access.can(Cap.MANAGE_EQUIPMENT), **kwargs
        )


class ApprovedEquipmentFormMixin(UtilityViewMixin, AuditedFormMixin):
    required_capability = Cap.MANAGE_EQUIPMENT
    form_class = ApprovedEquipmentForm
    template_name = "devices/approved_equipment_form.html"
    action_prefix = "approved_equipment"
    success_url_name = "utility:approved_equipment_list"
    integrity_message = "This pair is already on the list for this automaker."

    def get_queryset(self):
        return selectors.approved_equipment()


class ApprovedEquipmentCreateView(ApprovedEquipmentFormMixin, CreateView):
    pass


class ApprovedEquipmentEditView(ApprovedEquipmentFormMixin, UpdateView):
    pass


class ApprovedEquipmentDeleteView(UtilityViewMixin, DeleteView):
    """GET asks for confirmation; POST removes the pair and records what it was."""

    required_capability = Cap.MANAGE_EQUIPMENT
    template_name = "devices/approved_equipment_confirm_delete.html"
    context_object_name = "pair"

    def get_queryset(self):
        return selectors.approved_equipment()

    def get_success_url(self):
        return reverse("utility:approved_equipment_list", args=[self.request.utility.slug])

    def form_valid(self, form):
        label = str(self.object)
        try:
            delete_with_audit(
                obj=self.object,
                action="approved_equipment.deleted",
                utility=self.request.utility,
                actor=self.request.user,
                fields=list(ApprovedEquipmentForm.base_fields),
            )
        except ProtectedError:
            messages.error(self.request, f"“{label}” is in use and cannot be removed.")
        else:
            messages.success(self.request, f"Removed “{label}”.")
        return HttpResponseRedirect(self.get_success_url())


# --- Battery policies -----------------------------------------------------------------------


class BatteryPolicyListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_DEVICES
    template_name = "devices/battery_policy_list.html"
    context_object_name = "policies"
    paginate_by = 50

    def get_queryset(self):
        return selectors.battery_policies()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage=self.request.access.can(Cap.MANAGE_EQUIPMENT), **kwargs
        )


class BatteryPolicyFormMixin(UtilityViewMixin, AuditedFormMixin):
    required_capability = Cap.MANAGE_EQUIPMENT
    form_class = BatteryPolicyForm
    template_name = "devices/battery_policy_form.html"
    action_prefix = "battery_policy"
    success_url_name = "utility:battery_policy_list"

    def get_queryset(self):
        return selectors.battery_policies()


class BatteryPolicyCreateView(BatteryPolicyFormMixin, CreateView):
    pass


class BatteryPolicyEditView(BatteryPolicyFormMixin, UpdateView):
    pass


# --- Partner agreements ---------------------------------------------------------------------


class PartnerAgreementDetailView(UtilityViewMixin, DetailView):
    """An agreement and the health of the adapter that carries its commands."""

    required_capability = Cap.VIEW_PARTNERS
    template_name = "devices/partner_detail.html"
    context_object_name = "agreement"

    def get_queryset(self):
        return PartnerAgreement.objects.select_related("partner")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            health=selectors.adapter_health(agreement=self.object, now=timezone.now()),
            **kwargs,
        )
