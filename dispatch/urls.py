"""Dispatch pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from dispatch import grid_views, group_views, report_views, views

urlpatterns = [
    path("events/", views.EventListView.as_view(), name="event_list"),
    path("events/new/", views.EventCreateView.as_view(), name="event_create"),
    path("events/calendar/", views.EventCalendarView.as_view(), name="event_calendar"),
    path("events/<int:pk>/live/", views.EventLiveView.as_view(), name="event_live"),
    path("events/<int:pk>/", views.EventDetailView.as_view(), name="event_detail"),
    path("events/<int:pk>/cancel/", views.EventCancelView.as_view(), name="event_cancel"),
    path("events/<int:pk>/end-early/", views.EventEndEarlyView.as_view(), name="event_end_early"),
    path(
        "events/<int:pk>/end-early/confirm/",
        views.EventEndEarlyConfirmView.as_view(),
        name="event_end_early_confirm",
    ),
    path("events/<int:pk>/extend/", views.EventExtendView.as_view(), name="event_extend"),
    path("events/<int:pk>/report/", report_views.EventReportView.as_view(), name="event_report"),
    path(
        "events/<int:pk>/report.csv",
        report_views.EventReportCsvView.as_view(),
        name="event_report_csv",
    ),
    path("events/<int:pk>/measure/", report_views.EventMeasureView.as_view(), name="event_measure"),
    path("groups/", group_views.DispatchGroupListView.as_view(), name="dispatch_group_list"),
    path(
        "groups/new/", group_views.DispatchGroupCreateView.as_view(), name="dispatch_group_create"
    ),
    path(
        "groups/<int:pk>/",
        group_views.DispatchGroupDetailView.as_view(),
        name="dispatch_group_detail",
    ),
    path(
        "groups/<int:pk>/edit/",
        group_views.DispatchGroupEditView.as_view(),
        name="dispatch_group_edit",
    ),
    path("grid-signals/", grid_views.GridSourceListView.as_view(), name="grid_source_list"),
    path("grid-signals/new/", grid_views.GridSourceCreateView.as_view(), name="grid_source_create"),
    path(
        "grid-signals/<int:pk>/",
        grid_views.GridSourceDetailView.as_view(),
        name="grid_source_detail",
    ),
    path(
        "grid-signals/<int:pk>/edit/",
        grid_views.GridSourceEditView.as_view(),
        name="grid_source_edit",
    ),
    path(
        "grid-signals/<int:pk>/routes/",
        grid_views.GridRouteAddView.as_view(),
        name="grid_route_add",
    ),
    path(
        "grid-signals/<int:pk>/routes/<int:route_pk>/remove/",
        grid_views.GridRouteRemoveView.as_view(),
        name="grid_route_remove",
    ),
]
