"""What the incentive pages share: URL building, an object's audit history, and the page
that asks for and makes one decision (approve, reject, dispute, resolve, mark paid)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from enrollment.incentives import services
from portal.audit import history_of
from portal.roles import Cap
from portal.views import UtilityViewMixin

TEMPLATES = "incentives/"


def utility_url(request, name: str, *args) -> str:
    return reverse(f"utility:{name}", args=[request.utility.slug, *args])


def audit_history(request, obj):
    """The object's audit rows, for those who may read the audit trail (else None)."""
    if not request.access.can(Cap.VIEW_AUDIT):
        return None
    return history_of(obj).order_by("created_at", "id")[:50]


class ActionPage(UtilityViewMixin, View):
    """A decision about one object: GET shows it with the form (or a confirmation), POST
    makes it. A refused decision is shown as a message, and the page it came from again."""

    template_name = TEMPLATES + "action.html"
    title = ""
    button = ""
    danger = False
    form_class = None

    def get_object(self, pk: int):
        raise NotImplementedError

    def describe(self, obj) -> str:
        raise NotImplementedError

    def back_url(self, obj) -> str:
        raise NotImplementedError

    def act(self, obj, form):
        """Do it; return the success message. Raise IncentiveError to refuse."""
        raise NotImplementedError

    def get(self, request, *args, pk: int, **kwargs):
        obj = self.get_object(pk)
        return self.render_page(obj, self.form_class() if self.form_class else None)

    def post(self, request, *args, pk: int, **kwargs):
        obj = self.get_object(pk)
        form = self.form_class(request.POST, request.FILES) if self.form_class else None
        if form is not None and not form.is_valid():
            return self.render_page(obj, form)
        try:
            message = self.act(obj, form)
        except services.AlreadyDecided as error:
            messages.warning(request, error.message)
        except services.IncentiveError as error:
            if form is None:
                messages.error(request, error.message)
            else:
                form.add_error(None, error.message)
                return self.render_page(obj, form)
        else:
            if message:
                messages.success(request, message)
        return redirect(self.back_url(obj))

    def render_page(self, obj, form):
        context = {
            "object": obj,
            "title": self.title.format(obj=obj),
            "question": self.describe(obj),
            "form": form,
            "button": self.button,
            "danger": self.danger,
            "cancel_url": self.back_url(obj),
        }
        return render(self.request, self.template_name, context)
