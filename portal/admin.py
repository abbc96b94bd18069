"""The platform operators' admin site. Tenant data is read across utilities here (the
middleware disables scopes for staff on /admin/); the audit trail is read-only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from portal.models import (
    AHJ,
    AccessRequest,
    AHJTerritory,
    AuditEvent,
    AutomakerPartner,
    InstallerApproval,
    InstallerCompany,
    Invitation,
    Membership,
    PartnerAgreement,
    PartnerClient,
    User,
    Utility,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["utility", "installer", "ahj"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "last_login"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [MembershipInline]


@admin.register(Utility)
class UtilityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(InstallerCompany)
class InstallerCompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "license_state", "license_number"]
    search_fields = ["name", "license_number"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(AHJ)
class AHJAdmin(admin.ModelAdmin):
    list_display = ["name", "jurisdiction"]
    search_fields = ["name", "jurisdiction"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(AutomakerPartner)
class AutomakerPartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "contact_email"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(PartnerAgreement)
class PartnerAgreementAdmin(admin.ModelAdmin):
    list_display = ["partner", "utility", "status", "starts_on", "ends_on"]
    list_filter = ["status", "utility"]


@admin.register(PartnerClient)
class PartnerClientAdmin(admin.ModelAdmin):
    list_display = ["partner", "application", "created_at"]
    filter_horizontal = ["utilities"]


@admin.register(InstallerApproval)
class InstallerApprovalAdmin(admin.ModelAdmin):
    list_display = ["installer", "utility", "active", "approved_at"]
    list_filter = ["utility", "active"]


@admin.register(AHJTerritory)
class AHJTerritoryAdmin(admin.ModelAdmin):
    list_display = ["ahj", "utility"]
    list_filter = ["utility"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "utility", "installer", "ahj", "created_at"]
    list_filter = ["role", "utility"]
    search_fields = ["user__email"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "role", "utility", "installer", "ahj", "created_at", "accepted_at"]
    list_filter = ["role"]
    readonly_fields = ["token_hash", "sent_at", "accepted_at", "accepted_by"]


@admin.register(AccessRequest)
class AccessRequestAdmin(admin.ModelAdmin):
    list_display = ["company_name", "utility", "status", "created_at"]
    list_filter = ["status", "utility"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Browse only: nobody adds, changes or deletes audit history, superusers included."""

    list_display = ["created_at", "utility", "actor_label", "action", "object_repr", "to_state"]
    list_filter = ["utility", "action"]
    search_fields = ["actor_label", "object_repr", "request_id", "object_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
