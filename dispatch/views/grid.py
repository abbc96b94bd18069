"""Grid signal pages under /u/<utility_slug>/grid-signals/: the utility's OpenADR sources
(VTN, registration, last contact or error), which market context calls which program, and
every event each source sent with the portal's answer. Viewing needs VIEW_EVENTS, changing
DISPATCH_EVENTS; every change is audited (``grid_sources.save_source`` / ``add_route`` /
``remove_route``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from dispatch.forms import (
    GridOptCancelForm,
    GridOptOutForm,
    GridSignalRouteForm,
    GridSignalSourceForm,
    GridUnavailabilityForm,
)
from dispatch.grid.oadr2b_events import in_force, portal_event_in_force
from dispatch.grid.ven import ven_certificate_fingerprint
from dispatch.models import (
    GridEvent,
    GridOpt,
    GridSignal,
    GridSignalRoute,
    GridSignalSource,
    OpenADR3Link,
)
from dispatch.services import grid_opts, grid_sources
from dispatch.services.errors import SourceError
from enrollment.models import Program
from portal.roles import Cap
from portal.views import UtilityViewMixin

SIGNALS_PER_PAGE = 50
RECENT_SIGNALS = 20
OPTS_SHOWN = 20


def _detail_url(request, source) -> str:
    return reverse("utility:grid_source_detail", args=[request.utility.slug, source.pk])


def _detail_again(request, source, kwargs, **context):
    """The source page again (a form with errors, or a request that changed nothing)."""
    view = GridSourceDetailView(request=request, kwargs=kwargs, object=source)
    view.object = source
    return view.render_to_response(view.get_context_data(**context))


def openadr3_context(source: GridSignalSource) -> dict:
    """An OpenADR 3 source's settings and the callback URL the VTN is given."""
    link = OpenADR3Link.objects.filter(source=source).first()
    base = settings.OPENADR3_CALLBACK_BASE_URL.rstrip("/")
    url = base + reverse("openadr3_callback", args=[link.callback_token]) if link and base else ""
    return {"openadr3": link, "openadr3_callback_url": url}


def _programs():
    return Program.objects.exclude(status=Program.Status.DRAFT).order_by("name")


class GridSourceListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/grid_source_list.html"
    context_object_name = "sources"

    def get_queryset(self):
        return GridSignalSource.objects.prefetch_related("routes__program").order_by("name")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_dispatch"] = self.request.access.can(Cap.DISPATCH_EVENTS)
        ctx["signals"] = GridSignal.objects.select_related("source", "event").order_by(
            "-received_at", "-id"
        )[:RECENT_SIGNALS]
        return ctx


class GridSourceDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/grid_source_detail.html"
    context_object_name = "source"

    def get_queryset(self):
        return GridSignalSource.objects.all()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        page = Paginator(
            self.object.signals.select_related("event").order_by("-received_at", "-id"),
            SIGNALS_PER_PAGE,
        ).get_page(self.request.GET.get("page"))
        can_dispatch = self.request.access.can(Cap.DISPATCH_EVENTS)
        now = timezone.now()
        ctx.update(
            in_force=[
                (g, portal_event_in_force(g, now=now)) for g in in_force(self.object, now=now)
            ],
            can_register_again=can_dispatch
            and self.object.registration_state
            in (
                GridSignalSource.Registration.CANCELLED_BY_VTN,
                GridSignalSource.Registration.REFUSED,
            ),
            routes=self.object.routes.select_related("program"),
            opts=self.object.opts.select_related("created_by")[:OPTS_SHOWN],
            unavailability_form=kwargs.get("unavailability_form")
            or (GridUnavailabilityForm() if can_dispatch else None),
            page_obj=page,
            paginator=page.paginator,
            is_paginated=page.has_other_pages(),
            signals=page.object_list,
            can_dispatch=can_dispatch,
            ven_fingerprint=ven_certificate_fingerprint(),
            **openadr3_context(self.object),
            route_form=kwargs.get("route_form")
            or (GridSignalRouteForm(programs=_programs()) if can_dispatch else None),
        )
        return ctx


class GridSourceFormMixin(UtilityViewMixin):
    required_capability = Cap.DISPATCH_EVENTS
    template_name = "dispatch/grid_source_form.html"
    form_class = GridSignalSourceForm
    source: GridSignalSource | None = None

    def form_valid(self, form):
        try:
            source = grid_sources.save_source(
                utility=self.request.utility,
                source=self.source,
                actor=self.request.user,
                openadr3={name: form.cleaned_data[name] for name in form.OPENADR3_FIELDS},
                **{name: form.cleaned_data[name] for name in grid_sources.SOURCE_FIELDS},
            )
        except SourceError as exc:
            form.add_error(exc.details.get("field"), exc.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"Saved “{source}”. The VEN picks the change up within a minute.",
        )
        return HttpResponseRedirect(_detail_url(self.request, source))

    def get_context_data(self, **kwargs):
        return super().get_context_data(source=self.source, **kwargs)


class GridSourceCreateView(GridSourceFormMixin, FormView):
    def get_initial(self):
        return {"ven_name": f"{self.request.utility.slug}-portal", "active": True}


class GridSourceEditView(GridSourceFormMixin, FormView):
    @cached_property
    def source(self) -> GridSignalSource:  # looked up after the capability check
        return get_object_or_404(GridSignalSource.objects.all(), pk=self.kwargs["pk"])

    def get_initial(self):
        initial = {name: getattr(self.source, name) for name in grid_sources.SOURCE_FIELDS}
        link = OpenADR3Link.objects.filter(source=self.source).first()
        if link is not None:  # the client secret is never shown back
            initial.update(
                token_url=link.token_url,
                client_id=link.client_id,
                dispatch_prices=link.dispatch_prices,
            )
        return initial


class GridRouteAddView(UtilityViewMixin, View):
    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        source = get_object_or_404(GridSignalSource.objects.all(), pk=kwargs["pk"])
        form = GridSignalRouteForm(request.POST, programs=_programs())
        if form.is_valid():
            try:
                grid_sources.add_route(
                    source=source,
                    market_context=form.cleaned_data["market_context"],
                    program=form.cleaned_data["program"],
                    event_type=form.cleaned_data["event_type"],
                    actor=request.user,
                )
            except SourceError as exc:
                form.add_error(exc.details.get("field"), exc.message)
            else:
                messages.success(request, f"{form.cleaned_data['market_context']} now calls "
                                 f"{form.cleaned_data['program']}.")  # fmt: skip
                return HttpResponseRedirect(_detail_url(request, source))
        view = GridSourceDetailView(request=request, kwargs=kwargs, object=source)
        view.object = source
        return view.render_to_response(view.get_context_data(route_form=form))


class GridRouteRemoveView(UtilityViewMixin, View):
    """GET asks for confirmation; POST removes the mapping (audited)."""

    required_capability = Cap.DISPATCH_EVENTS

    def _route(self) -> GridSignalRoute:
        return get_object_or_404(
            GridSignalRoute.objects.select_related("source", "program"),
            pk=self.kwargs["route_pk"],
            source_id=self.kwargs["pk"],
        )

    def get(self, request, *args, **kwargs):
        return TemplateResponse(
            request, "dispatch/grid_route_confirm_remove.html", {"route": self._route()}
        )

    def post(self, request, *args, **kwargs):
        route = self._route()
        grid_sources.remove_route(route=route, actor=request.user)
        messages.success(request, f"{route.market_context} no longer calls a program.")
        return HttpResponseRedirect(_detail_url(request, route.source))


class GridSourceRegisterAgainView(UtilityViewMixin, View):
    """POST: the VEN registers again with a VTN that cancelled or refused the registration."""

    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        source = get_object_or_404(GridSignalSource.objects.all(), pk=kwargs["pk"])
        try:
            grid_sources.register_again(source=source, actor=request.user)
        except SourceError as exc:  # nothing to do: the page again, saying why
            messages.error(request, exc.message)
            return _detail_again(request, source, kwargs)
        messages.success(request, "The VEN registers again within a minute.")
        return HttpResponseRedirect(_detail_url(request, source))


class GridOptCreateView(UtilityViewMixin, View):
    """POST: a planned unavailability window for the source's VTN."""

    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        source = get_object_or_404(GridSignalSource.objects.all(), pk=kwargs["pk"])
        form = GridUnavailabilityForm(request.POST)
        if form.is_valid():
            try:
                grid_opts.plan_unavailability(
                    source=source, actor=request.user, **form.cleaned_data
                )
            except SourceError as exc:
                form.add_error(exc.details.get("field"), exc.message)
            else:
                messages.success(request, "The VEN tells the VTN after its next poll.")
                return HttpResponseRedirect(_detail_url(request, source))
        return _detail_again(request, source, kwargs, unavailability_form=form)


class GridEventOptOutView(UtilityViewMixin, View):
    """POST: opt out of a VTN event the VEN had opted in to."""

    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        grid_event = get_object_or_404(
            GridEvent.objects.select_related("source"),
            pk=kwargs["event_pk"],
            source_id=kwargs["pk"],
        )
        form = GridOptOutForm(request.POST)
        if not form.is_valid():
            return _detail_again(request, grid_event.source, kwargs)
        try:
            grid_opts.opt_out_of_event(
                grid_event=grid_event,
                expected_modification=form.cleaned_data["modification_number"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except SourceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Opting out of {grid_event.vtn_event_id} at the next poll.")
        return HttpResponseRedirect(_detail_url(request, grid_event.source))


class GridOptCancelView(UtilityViewMixin, View):
    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        opt = get_object_or_404(
            GridOpt.objects.select_related("source"), pk=kwargs["opt_pk"], source_id=kwargs["pk"]
        )
        form = GridOptCancelForm(request.POST)
        if not form.is_valid():
            return _detail_again(request, opt.source, kwargs)
        try:
            grid_opts.cancel(opt=opt, expected_state=form.cleaned_data["state"], actor=request.user)
        except SourceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Cancelled.")
        return HttpResponseRedirect(_detail_url(request, opt.source))
