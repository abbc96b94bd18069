"""Program and enrollment pages under /u/<utility_slug>/: program setup and terms, the
enrollment queue (filters, search, bulk approve / override), an enrollment's rules, consent,
history and actions, staff enrollment and partner offboarding.

Objects are looked up through the scoped default managers, so another utility's id is a 404
without any check here. Every change goes through ``enrollment.services``; a refusal
(``EnrollmentError``) or a stale page becomes a message, never an error page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import CreateView, DetailView, FormView, ListView, UpdateView

from enrollment import selectors, services
from enrollment.eligibility import RULE_LABELS
from enrollment.filters import EnrollmentFilter
from enrollment.forms import (
    ACTION_LABELS,
    BulkActionForm,
    EnrollmentActionForm,
    OffboardForm,
    ProgramForm,
    StaffEnrollmentForm,
    TermsVersionForm,
)
from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin

Status = Enrollment.Status


def refusal_text(exc: Exception) -> str:
    """What to tell the person when a service refused."""
    if isinstance(exc, services.EnrollmentError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


# --- Programs -------------------------------------------------------------------------------


class ProgramListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_PROGRAMS
    template_name = "enrollment/program_list.html"
    context_object_name = "programs"
    paginate_by = 50

    def get_queryset(self):
        return selectors.programs().order_by("name")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage=self.request.access.can(Cap.MANAGE_PROGRAMS), **kwargs
        )


class ProgramDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_PROGRAMS
    template_name = "enrollment/program_detail.html"
    context_object_name = "program"

    def get_queryset(self):
        return selectors.programs()

    def get_context_data(self, **kwargs):
        program = self.object
        due = selectors.consents_due_for_renewal(program=program)
        return super().get_context_data(
            status_counts=selectors.program_status_counts(program),
            terms_versions=selectors.terms_versions(program),
            conflicting=program.conflicting_programs.order_by("name"),
            renewals=due[:50],
            renewal_count=due.count(),
            can_manage=self.request.access.can(Cap.MANAGE_PROGRAMS),
            rate_class_labels=dict(ServiceAccount.RateClass.choices),
            **kwargs,
        )


class ProgramFormMixin(UtilityViewMixin):
    required_capability = Cap.MANAGE_PROGRAMS
    form_class = ProgramForm
    template_name = "enrollment/program_form.html"

    def get_queryset(self):
        return Program.objects.all()

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def get_object(self, queryset=None):
        program = super().get_object(queryset)
        self.before = services.program_snapshot(program)
        return program

    def form_valid(self, form):
        try:
            self.object = services.save_program(
                program=form.save(commit=False),
                before=getattr(self, "before", None),
                conflicting=form.cleaned_data["conflicting_programs"],
                actor=self.request.user,
            )
        except IntegrityError:
            form.add_error("slug", "Another program of this utility uses this slug.")
            return self.form_invalid(form)
        messages.success(self.request, f"Saved “{self.object}”.")
        return HttpResponseRedirect(
            reverse("utility:program_detail", args=[self.request.utility.slug, self.object.pk])
        )


class ProgramCreateView(ProgramFormMixin, CreateView):
    pass


class ProgramEditView(ProgramFormMixin, UpdateView):
    pass


class TermsVersionCreateView(UtilityViewMixin, FormView):
    required_capability = Cap.MANAGE_PROGRAMS
    form_class = TermsVersionForm
    template_name = "enrollment/terms_version_form.html"

    def dispatch(self, request, *args, **kwargs):
        self.program = get_object_or_404(Program.objects.all(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "program": self.program}

    def get_context_data(self, **kwargs):
        return super().get_context_data(program=self.program, **kwargs)

    def form_valid(self, form):
        try:
            terms = services.add_terms_version(
                terms=form.save(commit=False), actor=self.request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"Added terms version {terms.version}.")
        return HttpResponseRedirect(
            reverse("utility:program_detail", args=[self.request.utility.slug, self.program.pk])
        )


# --- The enrollment queue -------------------------------------------------------------------


class DeferredJoinPaginator(Paginator):
    """Finds a page's primary keys first (an index-only walk past the offset), then loads
    just those rows with their joins: page 1,000 costs about what page 1 does."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        keys = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=keys)}
        return self._get_page([rows[k] for k in keys if k in rows], number, self)


class EnrollmentListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_PROGRAMS
    filterset_class = EnrollmentFilter
    template_name = "enrollment/enrollment_list.html"
    context_object_name = "enrollments"
    paginate_by = 50
    paginator_class = DeferredJoinPaginator

    def base_queryset(self):
        return selectors.enrollment_queue()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(
            can_review=self.request.access.can(Cap.REVIEW_ENROLLMENTS), **kwargs
        )
        for enrollment in context["enrollments"]:
            enrollment.failed_labels = [RULE_LABELS.get(r, r) for r in enrollment.failed_rules]
        return context


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class EnrollmentBulkActionView(UtilityViewMixin, View):
    """Approve, or override with a reason, the enrollments selected in the queue; each one
    on its own (and audited), so one refusal does not hold back the rest."""

    required_capability = Cap.REVIEW_ENROLLMENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        queue = reverse("utility:enrollment_list", args=[request.utility.slug])
        back = _safe_next(request, queue)
        form = BulkActionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        try:
            result = services.bulk_review(
                enrollment_ids=[e.pk for e in data["enrollments"]],
                action=data["action"],
                reason=data["reason"],
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, refusal_text(exc))
            return HttpResponseRedirect(back)
        verb = "Approved" if data["action"] == "approve" else "Overrode and approved"
        if result.done:
            messages.success(request, f"{verb} {len(result.done)} enrollment(s).")
        for pk, why in result.refused.items():
            messages.warning(request, f"Enrollment #{pk}: {why}")
        return HttpResponseRedirect(back)


# --- One enrollment -------------------------------------------------------------------------


def available_actions(enrollment: Enrollment) -> list[tuple[str, str]]:
    allowed = Enrollment.ALLOWED.get(enrollment.status, set())
    names = []
    if enrollment.status in (Status.SUBMITTED, Status.ELIGIBILITY_REVIEW):
        names += ["approve", "override"]
    if Status.SUSPENDED in allowed:
        names.append("suspend")
    if enrollment.status == Status.SUSPENDED:
        names.append("reinstate")
    if Status.WITHDRAWN in allowed:
        names.append("withdraw")
    if Status.ENDED in allowed:
        names.append("end")
    return [(name, ACTION_LABELS[name]) for name in names]


class EnrollmentDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_PROGRAMS
    template_name = "enrollment/enrollment_detail.html"
    context_object_name = "enrollment"

    def get_queryset(self):
        return selectors.enrollment_with_details()

    def get_context_data(self, **kwargs):
        enrollment = self.object
        overridden = set(enrollment.overridden_rules or [])
        rules = [
            {
                **row,
                "label": RULE_LABELS.get(row.get("rule"), row.get("rule")),
                "overridden": not row.get("passed") and row.get("rule") in overridden,
            }
            for row in enrollment.eligibility or []
        ]
        can_review = self.request.access.can(Cap.REVIEW_ENROLLMENTS)
        kwargs.setdefault(
            "action_form", EnrollmentActionForm(initial={"expected_status": enrollment.status})
        )
        return super().get_context_data(
            rules=rules,
            rules_stale=enrollment.eligibility_rules_version < enrollment.program.rules_version,
            consents=selectors.consents_of(enrollment),
            history=selectors.history_of(enrollment),
            waitlist_position=selectors.waitlist_position(enrollment),
            actions=available_actions(enrollment) if can_review else [],
            can_view_customers=self.request.access.can(Cap.VIEW_CUSTOMERS),
            now=timezone.now(),
            **kwargs,
        )


class EnrollmentActionView(UtilityViewMixin, View):
    """One action (POST) from the enrollment page. A page loaded before someone else moved
    the enrollment (or a second click) changes nothing and says so; an incomplete form shows
    the page again with the problem."""

    required_capability = Cap.REVIEW_ENROLLMENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        enrollment = get_object_or_404(selectors.enrollment_with_details(), pk=kwargs["pk"])
        form = EnrollmentActionForm(request.POST)
        if not form.is_valid():
            detail = EnrollmentDetailView(request=request, kwargs=kwargs, object=enrollment)
            context = detail.get_context_data(object=enrollment, action_form=form)
            return detail.render_to_response(context)
        data = form.cleaned_data
        action, reason = data["action"], data["reason"]
        common: dict[str, Any] = {
            "enrollment": enrollment,
            "expected_status": data["expected_status"],
            "actor": request.user,
        }
        try:
            if action == "approve":
                services.approve(comment=reason, **common)
            elif action == "override":
                services.override(reason=reason, **common)
            elif action == "suspend":
                services.suspend(reason=reason, **common)
            elif action == "reinstate":
                services.reinstate(reason=reason, **common)
            elif action == "withdraw":
                services.withdraw(reason=reason, **common)
            else:
                services.end(reason=reason, **common)
        except (services.EnrollmentError, ValidationError) as exc:
            messages.error(request, refusal_text(exc))
        else:
            enrollment.refresh_from_db(fields=["status"])
            messages.success(
                request, f"Done: the enrollment is now {enrollment.get_status_display().lower()}."
            )
        return HttpResponseRedirect(
            reverse("utility:enrollment_detail", args=[request.utility.slug, enrollment.pk])
        )


class EnrollmentCreateView(UtilityViewMixin, FormView):
    """Staff enroll a customer themselves; the same checks as an automaker's request."""

    required_capability = Cap.REVIEW_ENROLLMENTS
    form_class = StaffEnrollmentForm
    template_name = "enrollment/enrollment_form.html"

    def form_valid(self, form):
        data = form.cleaned_data
        consent = services.ConsentInput(
            terms_version=form.terms,
            accepted_at=timezone.now(),
            channel=Enrollment.Channel.STAFF,
            data_sharing_scope=data["data_sharing_scope"],
        )
        try:
            enrollment, _ = services.submit_enrollment(
                program=data["program"],
                account=form.account,
                vehicle=form.vehicle,
                consent=consent,
                channel=Enrollment.Channel.STAFF,
                actor=self.request.user,
            )
        except services.EnrollmentError as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        messages.success(
            self.request, f"Enrolled: the enrollment is {enrollment.get_status_display().lower()}."
        )
        return HttpResponseRedirect(
            reverse("utility:enrollment_detail", args=[self.request.utility.slug, enrollment.pk])
        )


class OffboardingView(UtilityViewMixin, FormView):
    """Enrollments suspended because their automaker's agreement ended, and the action that
    offboards a partner whose agreement is no longer active."""

    required_capability = Cap.VIEW_PROGRAMS
    form_class = OffboardForm
    template_name = "enrollment/offboarding.html"

    def get_context_data(self, **kwargs):
        offboarded = selectors.offboarded_enrollments()
        return super().get_context_data(
            offboarded=offboarded[:200],
            offboarded_count=offboarded.count(),
            to_offboard=selectors.agreements_to_offboard(),
            can_review=self.request.access.can(Cap.REVIEW_ENROLLMENTS),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        if not request.access.can(Cap.REVIEW_ENROLLMENTS):
            raise PermissionDenied("Your role does not allow this action.")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        agreement = form.cleaned_data["agreement"]
        report = services.offboard_partner(agreement=agreement, actor=self.request.user)
        messages.success(
            self.request,
            f"{agreement.partner.name}: suspended {len(report.suspended)} active and withdrew "
            f"{len(report.withdrawn)} pending enrollment(s).",
        )
        return HttpResponseRedirect(
            reverse("utility:enrollment_offboarding", args=[self.request.utility.slug])
        )
