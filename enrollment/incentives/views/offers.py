"""The offers a utility's programs pay, and the form that creates or edits one."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.shortcuts import redirect
from django.views.generic import CreateView, ListView, UpdateView

from enrollment.incentives import selectors, services
from enrollment.incentives.forms import OfferForm
from enrollment.incentives.views.base import TEMPLATES, utility_url
from portal.roles import Cap
from portal.views import UtilityViewMixin


class OfferListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "offer_list.html"
    context_object_name = "offers"
    paginate_by = 100

    def get_queryset(self):
        return selectors.offers()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage=self.request.access.can(Cap.MANAGE_PROGRAMS), **kwargs
        )


class OfferFormMixin(UtilityViewMixin):
    required_capability = Cap.MANAGE_PROGRAMS
    form_class = OfferForm
    template_name = TEMPLATES + "offer_form.html"

    def get_queryset(self):
        return selectors.offers()

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def form_valid(self, form):
        try:
            self.object = services.save_offer(
                offer=form.save(commit=False), before=form.terms_before, actor=self.request.user
            )
        except IntegrityError:
            # Two people saving at once slipped past the form's checks; the constraints held.
            form.add_error(
                None,
                "The program already has an offer with this name, or an active offer of this type.",
            )
            return self.form_invalid(form)
        messages.success(self.request, f"Saved “{self.object.name}”.")
        return redirect(utility_url(self.request, "incentive_offer_list"))


class OfferCreateView(OfferFormMixin, CreateView):
    pass


class OfferEditView(OfferFormMixin, UpdateView):
    pass
