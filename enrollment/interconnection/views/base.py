"""What the interconnection pages of all three parties share: how a party addresses an
application, the application page, messages, and the installer's and AHJ's cross-utility
access (the organization, then the application found through an explicit filter on it)."""

from __future__ import annotations

from contextlib import contextmanager

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django_scopes import scope, scopes_disabled

from enrollment.interconnection import selectors, services
from enrollment.interconnection.forms import MessageForm
from enrollment.interconnection.models import ApplicationDocument, InterconnectionApplication
from enrollment.interconnection.services import InterconnectionError
from portal.downloads import document_download
from portal.tenancy import organization_access

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus


def error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return getattr(error, "message", str(error))


def serve_document(document: ApplicationDocument) -> FileResponse:
    return document_download(
        file=document.file, filename=document.download_name, content_type=document.content_type
    )


@contextmanager
def application_scope(app: Application):
    with scope(utility=app.utility_id), timezone.override(app.utility.tzinfo):
        yield


class Party:
    """How one party's pages address an application."""

    def __init__(self, kind: str, url_prefix: str, slug_kwargs: dict):
        self.kind = kind
        self.url_prefix = url_prefix
        self.slug_kwargs = slug_kwargs

    def url(self, name: str, **kwargs) -> str:
        return reverse(f"{self.url_prefix}{name}", kwargs={**self.slug_kwargs, **kwargs})


def render_application(request, *, party: Party, app: Application, status: int = 200, **extra):
    ctx = selectors.application_page(app)
    for doc in ctx["documents"]:
        doc.url = party.url("interconnection_document", pk=app.pk, doc_pk=doc.pk)
    for deficiency in ctx["deficiencies"]:
        for item in deficiency.items.all():
            if item.response_document:
                item.response_document.url = party.url(
                    "interconnection_document", pk=app.pk, doc_pk=item.response_document_id
                )
    message_form = extra.pop("message_form", None) or MessageForm()
    can_message = extra.pop("can_message", True) and not app.is_draft
    ctx.update(
        party=party.kind,
        message_url=party.url("interconnection_message", pk=app.pk),
        message_form=message_form,
        can_message=can_message,
        act_url=party.url("interconnection_act", pk=app.pk),
        list_url=party.url(
            "interconnection_list" if party.kind != "utility" else "interconnection_queue"
        ),
        pto_blockers=services.pto_blockers(app)
        if app.status in (Status.INSTALLED, Status.PTO_REVOKED)
        else [],
        statuses=Status,
        permits=Permit,
        **extra,
    )
    return render(request, "interconnection/application_detail.html", ctx, status=status)


def post_message(request, *, party: Party, app: Application, page):
    """A message from ``party`` to the others. A refused one re-renders the page with the
    text kept; a sent one redirects to the thread."""
    form = MessageForm(request.POST)
    if not form.is_valid():
        return page(app, message_form=form, error="The message was not sent: see below.")
    try:
        services.post_message(
            application=app, author=request.user, party=party.kind, body=form.cleaned_data["body"]
        )
    except InterconnectionError as error:
        form.add_error("body", error_text(error))
        return page(app, message_form=form, error=error_text(error))
    messages.success(request, "Message sent.")
    return HttpResponseRedirect(party.url("interconnection_detail", pk=app.pk) + "#messages")


class OrgApplicationMixin(LoginRequiredMixin, View):
    """An installer company's or an AHJ's pages: membership in the organization (404
    otherwise) and the capability (403 otherwise)."""

    org_kind: str
    capability: str
    url_prefix = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.workspace = organization_access(request.user, self.org_kind, kwargs["org_slug"])
        if self.capability not in self.workspace.capabilities:
            raise PermissionDenied("Your role does not allow this page.")
        self.organization = self.workspace.organization
        self.party = Party(self.org_kind, self.url_prefix, {"org_slug": self.organization.slug})
        return super().dispatch(request, *args, **kwargs)

    def applications(self):
        raise NotImplementedError

    def get_application(self, pk: int) -> Application:
        with scopes_disabled():
            app = (
                self.applications()
                .select_related(*selectors.application_related())
                .filter(pk=pk)
                .first()
            )
        if app is None:
            raise Http404("No such application.")
        return app


class OrgListMixin:
    """A cross-utility list. Only its query runs with scopes disabled, through the explicit
    organization filter: the page's rows (and the count for pagination) are read there, and
    the page renders outside it, so a query a template would start fails closed instead of
    reading every tenant's rows."""

    def get(self, request, *args, **kwargs):
        with scopes_disabled():
            self.object_list = self.get_queryset()
            ctx = self.get_context_data()
            ctx["applications"] = ctx["object_list"] = list(ctx["applications"])
        return self.render_to_response(ctx)


class OrgDocumentMixin:
    def get(self, request, *args, pk: int, doc_pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            document = get_object_or_404(
                ApplicationDocument.objects.all(), pk=doc_pk, application=app
            )
            return serve_document(document)
