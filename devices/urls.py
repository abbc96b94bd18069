"""Device pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from devices import views

urlpatterns = [
    path("vehicles/", views.VehicleListView.as_view(), name="vehicle_list"),
    path("vehicles/<int:pk>/", views.VehicleDetailView.as_view(), name="vehicle_detail"),
    path("chargers/", views.ChargerListView.as_view(), name="charger_list"),
    path("chargers/<int:pk>/", views.ChargerDetailView.as_view(), name="charger_detail"),
    path("equipment/", views.ApprovedEquipmentListView.as_view(), name="approved_equipment_list"),
    path(
        "equipment/new/",
        views.ApprovedEquipmentCreateView.as_view(),
        name="approved_equipment_create",
    ),
    path(
        "equipment/<int:pk>/edit/",
        views.ApprovedEquipmentEditView.as_view(),
        name="approved_equipment_edit",
    ),
    path(
        "equipment/<int:pk>/delete/",
        views.ApprovedEquipmentDeleteView.as_view(),
        name="approved_equipment_delete",
    ),
    path("policies/", views.BatteryPolicyListView.as_view(), name="battery_policy_list"),
    path("policies/new/", views.BatteryPolicyCreateView.as_view(), name="battery_policy_create"),
    path(
        "policies/<int:pk>/edit/",
        views.BatteryPolicyEditView.as_view(),
        name="battery_policy_edit",
    ),
    path("partners/<int:pk>/", views.PartnerAgreementDetailView.as_view(), name="partner_detail"),
]
