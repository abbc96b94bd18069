"""Platform operators' admin for the fleet registry and adapter configuration (read across
utilities; utility staff use the portal's own pages)."""

from django.contrib import admin

from devices.models import (
    AdapterAttempt,
    AdapterConfig,
    ApprovedEquipment,
    BatteryPolicy,
    Charger,
    DeviceCommand,
    OptOut,
    Vehicle,
)


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ["vin", "utility", "partner", "model", "model_year", "status"]
    list_filter = ["utility", "partner", "status"]
    search_fields = ["vin", "partner_vehicle_id"]
    raw_id_fields = ["service_account", "charger"]


@admin.register(Charger)
class ChargerAdmin(admin.ModelAdmin):
    list_display = ["maker", "model", "serial", "utility", "approved_export_kw"]
    list_filter = ["utility", "maker"]
    search_fields = ["serial"]
    raw_id_fields = ["service_account"]


@admin.register(ApprovedEquipment)
class ApprovedEquipmentAdmin(admin.ModelAdmin):
    list_display = ["utility", "partner", "vehicle_model", "charger_maker", "charger_model"]
    list_filter = ["utility", "partner"]


@admin.register(BatteryPolicy)
class BatteryPolicyAdmin(admin.ModelAdmin):
    list_display = ["utility", "partner", "vehicle_model", "discharge_soc_floor_pct", "active"]
    list_filter = ["utility", "partner", "active"]


@admin.register(AdapterConfig)
class AdapterConfigAdmin(admin.ModelAdmin):
    list_display = ["agreement", "kind", "endpoint_url", "circuit_state", "last_success_at"]
    list_filter = ["kind", "circuit_state"]
    readonly_fields = ["circuit_state", "consecutive_failures", "circuit_opened_at"]


@admin.register(DeviceCommand)
class DeviceCommandAdmin(admin.ModelAdmin):
    """Commands change state only through the adapters and the partner API."""

    list_display = ["id", "utility", "vehicle", "kind", "setpoint_kw", "status", "created_at"]
    list_filter = ["utility", "status", "kind"]
    search_fields = ["idempotency_key", "source_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AdapterAttempt)
class AdapterAttemptAdmin(admin.ModelAdmin):
    list_display = ["started_at", "agreement", "outcome", "http_status", "command_count"]
    list_filter = ["outcome"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["vehicle", "partner", "event_ref", "starts_at", "ends_at", "received_at"]
    list_filter = ["utility", "partner"]
    raw_id_fields = ["vehicle"]
