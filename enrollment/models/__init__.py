"""Models of the enrollment app, one module per area; import them from here."""

from enrollment.models.programs import Consent, Enrollment, Program, TermsVersion

__all__ = ["Consent", "Enrollment", "Program", "TermsVersion"]
