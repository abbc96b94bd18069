"""Platform operators' admin for programs, interconnection settings and
incentives. The ledger is read-only here as everywhere."""

from django.contrib import admin

from enrollment.models import (
    Enrollment,
    IncentiveOffer,
    InterconnectionApplication,
    InterconnectionPolicy,
    LedgerEntry,
    Program,
    Transformer,
)


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "utility", "kind", "status", "enrollment_cap"]
    list_filter = ["utility", "kind", "status"]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    """Enrollments move only through the lifecycle services (each move is audited)."""

    list_display = ["id", "utility", "program", "service_account", "vehicle", "status"]
    list_filter = ["utility", "status"]
    raw_id_fields = ["service_account", "vehicle"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InterconnectionPolicy)
class InterconnectionPolicyAdmin(admin.ModelAdmin):
    """A utility's fast-track export limit and SLA targets (business days per stage)."""

    list_display = ["utility", "fast_track_max_export_kw", "sla_business_days"]


@admin.register(Transformer)
class TransformerAdmin(admin.ModelAdmin):
    list_display = ["code", "utility", "feeder", "rating_kva", "export_threshold_kw"]
    list_filter = ["utility"]
    search_fields = ["code", "feeder"]


@admin.register(InterconnectionApplication)
class InterconnectionApplicationAdmin(admin.ModelAdmin):
    """Applications move only through the parties' pages; browse here."""

    list_display = ["__str__", "utility", "status"]
    list_filter = ["utility", "status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(IncentiveOffer)
class IncentiveOfferAdmin(admin.ModelAdmin):
    list_display = ["__str__", "utility", "program"]
    list_filter = ["utility"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["__str__", "utility", "created_at"]
    list_filter = ["utility"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
