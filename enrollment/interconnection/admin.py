"""Platform operators' admin for interconnection settings (policies, transformers) and a
read-only view of the applications."""

from django.contrib import admin

from enrollment.interconnection.models import (
    InterconnectionApplication,
    InterconnectionPolicy,
    Transformer,
)


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
