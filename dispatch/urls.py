"""Dispatch pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from dispatch.views import console, events, grid, grid_messages, groups, report

urlpatterns = [
    path("events/", events.EventListView.as_view(), name="event_list"),
    path("events/new/", events.EventCreateView.as_view(), name="event_create"),
    path("events/calendar/", console.EventCalendarView.as_view(), name="event_calendar"),
    path("events/<int:pk>/live/", console.EventLiveView.as_view(), name="event_live"),
    path("events/<int:pk>/", events.EventDetailView.as_view(), name="event_detail"),
    path("events/<int:pk>/cancel/", events.EventCancelView.as_view(), name="event_cancel"),
    path("events/<int:pk>/end-early/", events.EventEndEarlyView.as_view(), name="event_end_early"),
    path(
        "events/<int:pk>/end-early/confirm/",
        events.EventEndEarlyConfirmView.as_view(),
        name="event_end_early_confirm",
    ),
    path("events/<int:pk>/extend/", events.EventExtendView.as_view(), name="event_extend"),
    path("events/<int:pk>/report/", report.EventReportView.as_view(), name="event_report"),
    path(
        "events/<int:pk>/report.csv",
        report.EventReportCsvView.as_view(),
        name="event_report_csv",
    ),
    path("events/<int:pk>/measure/", report.EventMeasureView.as_view(), name="event_measure"),
    path("groups/", groups.DispatchGroupListView.as_view(), name="dispatch_group_list"),
    path("groups/new/", groups.DispatchGroupCreateView.as_view(), name="dispatch_group_create"),
    path(
        "groups/<int:pk>/",
        groups.DispatchGroupDetailView.as_view(),
        name="dispatch_group_detail",
    ),
    path(
        "groups/<int:pk>/edit/",
        groups.DispatchGroupEditView.as_view(),
        name="dispatch_group_edit",
    ),
    path("grid-signals/", grid.GridSourceListView.as_view(), name="grid_source_list"),
    path("grid-signals/new/", grid.GridSourceCreateView.as_view(), name="grid_source_create"),
    path(
        "grid-signals/<int:pk>/",
        grid.GridSourceDetailView.as_view(),
        name="grid_source_detail",
    ),
    path(
        "grid-signals/<int:pk>/edit/",
        grid.GridSourceEditView.as_view(),
        name="grid_source_edit",
    ),
    path(
        "grid-signals/<int:pk>/register-again/",
        grid.GridSourceRegisterAgainView.as_view(),
        name="grid_source_register_again",
    ),
    path(
        "grid-signals/<int:pk>/messages/",
        grid_messages.GridMessageListView.as_view(),
        name="grid_message_list",
    ),
    path(
        "grid-signals/<int:pk>/messages.csv",
        grid_messages.GridMessageCsvView.as_view(),
        name="grid_message_csv",
    ),
    path(
        "grid-signals/<int:pk>/messages/<int:message_pk>/",
        grid_messages.GridMessageDetailView.as_view(),
        name="grid_message_detail",
    ),
    path(
        "grid-signals/<int:pk>/routes/",
        grid.GridRouteAddView.as_view(),
        name="grid_route_add",
    ),
    path(
        "grid-signals/<int:pk>/routes/<int:route_pk>/remove/",
        grid.GridRouteRemoveView.as_view(),
        name="grid_route_remove",
    ),
]
