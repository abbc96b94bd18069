"""Dispatch pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from dispatch import views

urlpatterns = [
    path("events/", views.EventListView.as_view(), name="event_list"),
    path("events/new/", views.EventCreateView.as_view(), name="event_create"),
    path("events/<int:pk>/", views.EventDetailView.as_view(), name="event_detail"),
    path("events/<int:pk>/cancel/", views.EventCancelView.as_view(), name="event_cancel"),
    path("events/<int:pk>/end-early/", views.EventEndEarlyView.as_view(), name="event_end_early"),
    path("events/<int:pk>/extend/", views.EventExtendView.as_view(), name="event_extend"),
]
