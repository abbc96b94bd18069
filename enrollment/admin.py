"""Platform operators' admin for customers and programs."""

from django.contrib import admin

from enrollment.models import Enrollment, Program, ServiceAccount


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    list_display = [
        "account_number",
        "customer_name",
        "utility",
        "zip_code",
        "feeder",
        "rate_class",
    ]
    list_filter = ["utility", "rate_class"]
    search_fields = ["account_number", "customer_name", "meter_id", "feeder"]


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
