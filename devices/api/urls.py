"""Device endpoints of the partner API, included under /api/v1/ (namespace "api:v1")."""

from django.urls import path

from devices.api import views

vehicle_list = views.VehicleViewSet.as_view({"get": "list", "post": "create"})
vehicle_detail = views.VehicleViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
vehicle_by_id = views.VehicleByIdViewSet.as_view({"get": "retrieve", "patch": "partial_update"})

urlpatterns = [
    path("vehicles", vehicle_list, name="vehicle-list"),
    path("vehicles/by-id/<str:vehicle_id>", vehicle_by_id, name="vehicle-by-id"),
    path("vehicles/<str:vin>", vehicle_detail, name="vehicle-detail"),
    path(
        "vehicles/<str:vin>/preferences", views.PreferenceView.as_view(), name="vehicle-preferences"
    ),
    path("telemetry", views.TelemetryView.as_view(), name="telemetry"),
    path("commands", views.CommandPullView.as_view(), name="command-pull"),
    path("commands/ack", views.CommandAckView.as_view(), name="command-ack"),
    path("opt-outs", views.OptOutView.as_view(), name="opt-out-create"),
]
