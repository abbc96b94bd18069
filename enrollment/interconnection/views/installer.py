"""The installer company's interconnection pages under /installer/<org_slug>/: its
applications, a new one, documents, answers to deficiencies, actions and messages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.generic import ListView
from django_scopes import scope, scopes_disabled

from enrollment.interconnection import selectors, services
from enrollment.interconnection.forms import (
    ActionForm,
    AnswerForm,
    ApplicationForm,
    DocumentForm,
    NewApplicationForm,
)
from enrollment.interconnection.models import InterconnectionApplication
from enrollment.interconnection.services import AnswerInput, InterconnectionError
from enrollment.interconnection.views.base import (
    OrgApplicationMixin,
    OrgDocumentMixin,
    OrgListMixin,
    application_scope,
    error_text,
    post_message,
    render_application,
)
from portal.customers.authorizations import (
    CustomerLookupRefused,
    LookupParty,
    LookupsThrottled,
    authorized_account,
)
from portal.failure_budgets import client_address
from portal.models import InstallerApproval, Utility
from portal.roles import Cap, OrgKind

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus


class InstallerMixin(OrgApplicationMixin):
    org_kind = OrgKind.INSTALLER
    capability = Cap.INSTALLER_WORKSPACE
    url_prefix = "installer_"

    def applications(self):
        return selectors.installer_applications(self.organization)

    def page(self, app: Application, status: int = 200, **extra):
        editable = app.status in services.EDITABLE_STATES
        open_deficiency = extra.pop("answer_form", None)
        ctx = {
            "company": self.organization,
            "edit_form": extra.pop("edit_form", None)
            or (ApplicationForm(application=app) if editable else None),
            "document_form": extra.pop("document_form", None) or DocumentForm(),
            "checklist": selectors.checklist(app) if editable else [],
            "can_upload": app.status not in Application.FINAL_STATES,
            "document_url": self.party.url("interconnection_documents", pk=app.pk),
            "answer_url": self.party.url("interconnection_answer", pk=app.pk),
            "detail_url": self.party.url("interconnection_detail", pk=app.pk),
            "can_report_installed": app.permit_status
            in (Permit.PERMIT_ISSUED, Permit.INSPECTION_FAILED)
            and (
                not app.needs_interconnection
                or app.status in (Status.APPROVED_TO_INSTALL, Status.INSTALLED)
            ),
        }
        response = render_application(
            self.request, party=self.party, app=app, status=status, **ctx, **extra,
            answer_form=open_deficiency,
        )  # fmt: skip
        return response

    def redirect_to(self, app: Application, message: str):
        messages.success(self.request, message)
        return HttpResponseRedirect(self.party.url("interconnection_detail", pk=app.pk))


class InstallerListView(OrgListMixin, InstallerMixin, ListView):
    template_name = "interconnection/installer_list.html"
    context_object_name = "applications"
    paginate_by = 50
    SHOW = {
        "drafts": {"status": Status.DRAFT},
        "deficiencies": {"deficiencies__answered_at__isnull": True, "deficiencies__isnull": False},
        "open": {"status__in": Application.OPEN_STATES},
    }

    def get_queryset(self):
        self.show = self.request.GET.get("show", "")
        qs = self.applications()
        if self.show in self.SHOW:
            qs = qs.filter(**self.SHOW[self.show]).distinct()
        return selectors.with_message_summary(selectors.list_queryset(qs)).order_by(
            "-created_at", "-id"
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(company=self.organization, show=self.show, workspace=self.workspace)
        return ctx


class InstallerNewView(InstallerMixin):
    template_name = "interconnection/installer_new.html"

    def utilities(self):
        with scopes_disabled():
            approved = InstallerApproval.objects.filter(installer=self.organization, active=True)
            return Utility.objects.filter(pk__in=approved.values("utility_id"))

    def get(self, request, *args, **kwargs):
        form = NewApplicationForm(utilities=self.utilities())
        return render(request, self.template_name, {"form": form, "company": self.organization})

    def post(self, request, *args, **kwargs):
        form = NewApplicationForm(request.POST, utilities=self.utilities())
        with scopes_disabled():
            valid = form.is_valid()
        if not valid:
            return render(request, self.template_name, {"form": form, "company": self.organization})
        data = form.cleaned_data
        utility = data["utility"]
        company = self.organization
        party = LookupParty(address=client_address(request), installer=company, user=request.user)
        with scope(utility=utility.pk), timezone.override(utility.tzinfo):
            try:
                account = authorized_account(
                    utility=utility,
                    account_number=data["account_number"],
                    zip_code=data["zip_code"],
                    code=data["authorization_code"],
                    party=party,
                    related=lambda account: Application.objects.filter(
                        service_account=account, installer=company
                    ).exists(),
                )
            except CustomerLookupRefused as refused:
                form.add_error(None, refused.message)
                status = 429 if isinstance(refused, LookupsThrottled) else 200
                context = {"form": form, "company": company}
                return render(request, self.template_name, context, status=status)
            app = services.create_draft(
                utility=utility,
                installer=company,
                service_account=account,
                actor=request.user,
                values={"configuration": data["configuration"]},
            )
        return self.redirect_to(app, "Draft created. Fill in the details and upload the documents.")


class InstallerDetailView(InstallerMixin):
    """The application; while drafting (or answering a deficiency), also its edit form."""

    def get(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            return self.page(app, answer_form=self.answer_form(app))

    def answer_form(self, app: Application, data=None, files=None):
        deficiency = app.deficiencies.filter(answered_at__isnull=True).first()
        return AnswerForm(data, files, deficiency=deficiency) if deficiency else None

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = ApplicationForm(request.POST, application=app)
            if not form.is_valid():
                return self.page(app, edit_form=form, error="Check the highlighted fields.")
            try:
                services.update_draft(application=app, actor=request.user, values=form.values())
            except InterconnectionError as error:
                return self.page(self.get_application(pk), error=error_text(error))
            return self.redirect_to(app, "Saved.")


class InstallerDocumentsView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = DocumentForm(request.POST, request.FILES)
            if not form.is_valid():
                return self.page(
                    app, document_form=form, error="The file was not uploaded: see below.",
                    answer_form=self.answer_form(app),
                )  # fmt: skip
            try:
                doc = services.upload_document(
                    application=app,
                    kind=form.cleaned_data["kind"],
                    upload=form.cleaned_data["file"],
                    actor=request.user,
                )
            except (InterconnectionError, ValidationError) as error:
                return self.page(
                    self.get_application(pk), document_form=form, error=error_text(error),
                    answer_form=self.answer_form(app),
                )  # fmt: skip
            return self.redirect_to(app, f"Uploaded {doc}.")


class InstallerAnswerView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = self.answer_form(app, request.POST, request.FILES)
            if form is None:
                return self.page(app, error="There is no open deficiency to answer.")
            if not form.is_valid():
                return self.page(app, answer_form=form, error="Answer every item: see below.")
            answers = [
                AnswerInput(
                    item_id=item.pk,
                    response=form.cleaned_data.get(f"response_{item.pk}", ""),
                    upload=form.cleaned_data.get(f"file_{item.pk}"),
                )
                for item in form.deficiency_items
            ]
            try:
                services.answer_deficiency(application=app, answers=answers, actor=request.user)
            except (InterconnectionError, ValidationError) as error:
                return self.page(
                    self.get_application(pk), answer_form=form, error=error_text(error)
                )
            return self.redirect_to(app, "Answer sent. The review continues.")


class InstallerActView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = ActionForm(request.POST)
            action = form.data.get("action", "")
            expected = form.data.get("expected") or None
            try:
                if action == "submit":
                    services.submit(application=app, actor=request.user, expected=expected)
                    message = "Submitted to the utility and the AHJ."
                elif action == "installed":
                    services.report_installed(application=app, actor=request.user)
                    message = "Installation reported; the AHJ is asked to inspect."
                elif action == "withdraw":
                    services.withdraw(
                        application=app, actor=request.user, reason=form.data.get("comment", "")
                    )
                    message = "Withdrawn."
                else:
                    raise services.InvalidInput("Choose an action.")
            except InterconnectionError as error:
                app = self.get_application(pk)
                return self.page(app, error=error_text(error), answer_form=self.answer_form(app))
            return self.redirect_to(app, message)


class InstallerMessageView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            return post_message(
                request,
                party=self.party,
                app=app,
                page=lambda app, **extra: self.page(
                    app, answer_form=self.answer_form(app), **extra
                ),
            )


class InstallerApplicationDocumentView(OrgDocumentMixin, InstallerMixin):
    pass
