"""Platform operators' admin for incentive offers and the ledger (read-only here as
everywhere)."""

from django.contrib import admin

from enrollment.incentives.models import IncentiveOffer, LedgerEntry


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
