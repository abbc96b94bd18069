"""Forms for identity pages. They validate input only; the writes are in services/."""

from __future__ import annotations

from allauth.mfa.totp.forms import ActivateTOTPForm
from django import forms
from django.contrib.auth import password_validation
from django.core.validators import RegexValidator

from portal.models import AHJ, AccessRequest, User, Utility
from portal.roles import Role
from portal.tenancy import requires_mfa


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Role")
    ahj = forms.ModelChoiceField(
        label="AHJ",
        queryset=AHJ.objects.none(),
        required=False,
        empty_label="— Only for AHJ reviewers —",
        help_text="The building department an AHJ reviewer works for.",
    )

    def __init__(self, *args, roles: list[str], ahjs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r, Role(r).label) for r in roles]
        if ahjs is None or Role.AHJ_REVIEWER not in roles:
            del self.fields["ahj"]
        else:
            self.fields["ahj"].queryset = ahjs

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        if "ahj" not in self.fields:
            return cleaned
        if cleaned.get("role") == Role.AHJ_REVIEWER:
            if not cleaned.get("ahj"):
                self.add_error("ahj", "Choose the AHJ this reviewer works for.")
        else:
            cleaned["ahj"] = None
        return cleaned


class AcceptInvitationForm(forms.Form):
    """A new person's account: name and password (the email is the invited one)."""

    full_name = forms.CharField(label="Full name", max_length=200)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords do not match.")
        elif password1:
            # An unsaved user lets the similarity validator compare with the name and email.
            candidate = User(email=self.email, full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password1, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


licence_state_validator = RegexValidator(r"^[A-Z]{2}$", "Enter a two-letter state code.")


class RequestAccessForm(forms.Form):
    """An installer company new to the portal asks to work in a utility (public page)."""

    company_name = forms.CharField(label="Company name", max_length=200)
    license_state = forms.CharField(
        label="Licence state",
        max_length=2,
        min_length=2,
        initial="CA",
        help_text="Two letters, e.g. CA.",
    )
    license_number = forms.CharField(
        label="Contractor licence number",
        max_length=40,
        help_text="As issued by your state licensing board, e.g. C10-123456.",
    )
    contact_name = forms.CharField(label="Your name", max_length=200)
    contact_email = forms.EmailField(
        label="Your email address",
        max_length=254,
        help_text="If the utility approves, the invitation to the portal is sent here.",
    )
    utility = forms.ModelChoiceField(
        label="Utility", queryset=Utility.objects.order_by("name"), empty_label="— Choose —"
    )
    message = forms.CharField(
        label="Message to the utility",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean_license_state(self) -> str:
        value = self.cleaned_data["license_state"].strip().upper()
        licence_state_validator(value)
        return value

    def clean_license_number(self) -> str:
        value = self.cleaned_data["license_number"].strip().upper()
        if not value:
            raise forms.ValidationError("Enter your licence number.")
        return value

    def clean_contact_email(self) -> str:
        return self.cleaned_data["contact_email"].strip().lower()


class InstallerRequestAccessForm(forms.Form):
    """An existing company's installer admin asks for another utility."""

    utility = forms.ModelChoiceField(
        label="Utility", queryset=Utility.objects.none(), empty_label="— Choose —"
    )
    message = forms.CharField(
        label="Message to the utility",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, utilities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["utility"].queryset = utilities


class DecisionForm(forms.Form):
    APPROVE = AccessRequest.Status.APPROVED
    REJECT = AccessRequest.Status.REJECTED

    decision = forms.ChoiceField(choices=[(APPROVE, "Approve"), (REJECT, "Reject")])
    reason = forms.CharField(
        label="Reason for rejecting",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to reject; the installer sees it.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == self.REJECT and not cleaned.get("reason", "").strip():
            self.add_error("reason", "Give a reason: the installer will see it.")
        return cleaned


class PortalActivateTOTPForm(ActivateTOTPForm):
    """allauth's TOTP activation form, telling the page whether the person's role makes the
    second factor mandatory (settings.MFA_FORMS)."""

    @property
    def required_by_role(self) -> bool:
        return requires_mfa(self.user)
