"""Platform operators' admin for programs and enrollments."""

from django.contrib import admin

from enrollment.models import Enrollment, Program


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
