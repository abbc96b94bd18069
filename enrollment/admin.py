"""Platform operators' admin for programs and interconnection settings."""

from django.contrib import admin

from enrollment.models import (
    Enrollment,
    InterconnectionApplication,
    InterconnectionPolicy,
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
