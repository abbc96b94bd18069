"""Dispatch group pages under /u/<utility_slug>/groups/: the list with member counts, a
group's members (paginated) and the events that targeted it, and create / edit with the
members as a list of VINs. Viewing needs VIEW_EVENTS, changing DISPATCH_EVENTS; every change
is audited (``services.groups.save_group``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.generic import DetailView, FormView, ListView

from devices.models import Vehicle
from dispatch import selectors
from dispatch.forms import DispatchGroupForm
from dispatch.models import DispatchGroup
from dispatch.services.errors import GroupError
from dispatch.services.groups import save_group
from portal.roles import Cap
from portal.views import UtilityViewMixin

MEMBERS_PER_PAGE = 100
RECENT_EVENTS = 10


class DispatchGroupListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/group_list.html"
    context_object_name = "groups"
    paginate_by = 50

    def get_queryset(self):
        return selectors.groups_with_counts()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_dispatch"] = self.request.access.can(Cap.DISPATCH_EVENTS)
        return ctx


class DispatchGroupDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/group_detail.html"
    context_object_name = "group"

    def get_queryset(self):
        return selectors.groups_with_counts()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        members = Vehicle.objects.filter(
            pk__in=DispatchGroup.vehicles.through.objects.filter(
                dispatchgroup_id=self.object.pk
            ).values("vehicle_id")
        ).order_by("vin")
        page = Paginator(members, MEMBERS_PER_PAGE, allow_empty_first_page=True).get_page(
            self.request.GET.get("page")
        )
        ctx.update(
            page_obj=page,
            paginator=page.paginator,
            is_paginated=page.has_other_pages(),
            members=page.object_list,
            events=self.object.events.select_related("program")[:RECENT_EVENTS],
            can_dispatch=self.request.access.can(Cap.DISPATCH_EVENTS),
            can_view_devices=self.request.access.can(Cap.VIEW_DEVICES),
        )
        return ctx


class DispatchGroupFormMixin(UtilityViewMixin):
    required_capability = Cap.DISPATCH_EVENTS
    template_name = "dispatch/group_form.html"
    form_class = DispatchGroupForm
    group: DispatchGroup | None = None

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            group = save_group(
                utility=self.request.utility,
                group=self.group,
                name=data["name"],
                description=data["description"],
                vehicle_ids=data["vehicle_ids"],
                actor=self.request.user,
            )
        except GroupError as exc:
            form.add_group_error(exc)
            return self.form_invalid(form)
        except IntegrityError:  # the same name saved by someone else at the same moment
            form.add_error("name", "There is already a group with this name.")
            return self.form_invalid(form)
        messages.success(self.request, f"Saved the group “{group}”.")
        return HttpResponseRedirect(
            reverse("utility:dispatch_group_detail", args=[self.request.utility.slug, group.pk])
        )

    def get_context_data(self, **kwargs):
        return super().get_context_data(group=self.group, **kwargs)


class DispatchGroupCreateView(DispatchGroupFormMixin, FormView):
    pass


class DispatchGroupEditView(DispatchGroupFormMixin, FormView):
    @cached_property
    def group(self) -> DispatchGroup:  # looked up after the capability check
        return get_object_or_404(DispatchGroup.objects.all(), pk=self.kwargs["pk"])

    def get_initial(self):
        vins = Vehicle.objects.filter(
            pk__in=DispatchGroup.vehicles.through.objects.filter(
                dispatchgroup_id=self.group.pk
            ).values("vehicle_id")
        ).order_by("vin")
        return {
            "name": self.group.name,
            "description": self.group.description,
            "vins": list(vins.values_list("vin", flat=True)),
        }
