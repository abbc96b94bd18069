"""Device endpoints of the partner API, included under /api/v1/ (namespace "api:v1")."""

from django.urls import path

from devices.api.views.commands import CommandAckView, CommandPullView
from devices.api.views.opt_outs import OptOutView
from devices.api.views.telemetry import TelemetryView
from devices.api.views.vehicles import PreferenceView, VehicleByIdViewSet, VehicleViewSet

vehicle_list = VehicleViewSet.as_view({"get": "list", "post": "create"})
vehicle_detail = VehicleViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
vehicle_by_id = VehicleByIdViewSet.as_view({"get": "retrieve", "patch": "partial_update"})

urlpatterns = [
    path("vehicles", vehicle_list, name="vehicle-list"),
    path("vehicles/by-id/<str:vehicle_id>", vehicle_by_id, name="vehicle-by-id"),
    path("vehicles/<str:vin>", vehicle_detail, name="vehicle-detail"),
    path("vehicles/<str:vin>/preferences", PreferenceView.as_view(), name="vehicle-preferences"),
    path("telemetry", TelemetryView.as_view(), name="telemetry"),
    path("commands", CommandPullView.as_view(), name="command-pull"),
    path("commands/ack", CommandAckView.as_view(), name="command-ack"),
    path("opt-outs", OptOutView.as_view(), name="opt-out-create"),
]
