"""The protocol message log of a grid signal source (``GridMessage``): every message to and
from its VTN, searchable by text, direction, type, VTN event and time, one message's full body,
and the filtered log as CSV. Viewing needs VIEW_EVENTS."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django.views.generic import DetailView, TemplateView

from dispatch.filters import GridMessageFilter
from dispatch.models import GridMessage, GridSignalSource
from portal.downloads import csv_download
from portal.roles import Cap
from portal.views import UtilityViewMixin

MESSAGES_PER_PAGE = 50
# The list never loads bodies (up to GridMessage.MAX_BODY_CHARS each).
LIST_FIELDS = (
    "id", "source_id", "direction", "protocol", "message_type", "validation", "summary",
    "vtn_event_id", "event_id", "created_at", "body_truncated",
)  # fmt: skip


class SourceMessagesMixin(UtilityViewMixin):
    required_capability = Cap.VIEW_EVENTS

    @cached_property
    def source(self) -> GridSignalSource:
        return get_object_or_404(GridSignalSource.objects.all(), pk=self.kwargs["pk"])

    def filtered(self) -> GridMessageFilter:
        queryset = GridMessage.objects.filter(source=self.source).order_by("-created_at", "-id")
        return GridMessageFilter(self.request.GET or None, queryset=queryset)


class GridMessageListView(SourceMessagesMixin, TemplateView):
    template_name = "dispatch/grid_message_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        filterset = self.filtered()
        rows = filterset.qs.only(*LIST_FIELDS)
        page = Paginator(rows, MESSAGES_PER_PAGE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update(
            source=self.source,
            filter=filterset,
            page_obj=page,
            paginator=page.paginator,
            is_paginated=page.has_other_pages(),
            grid_messages=page.object_list,
            query=query.urlencode(),
        )
        return ctx


class GridMessageCsvView(SourceMessagesMixin, TemplateView):
    HEADER = [
        "id", "created_at", "direction", "protocol", "message_type", "validation", "errors",
        "vtn_event_id", "event_id", "summary", "body_truncated", "body",
    ]  # fmt: skip

    def get(self, request, *args, **kwargs):
        tz = request.utility.tzinfo
        rows = self.filtered().qs.values_list(
            "id", "created_at", "direction", "protocol", "message_type", "validation", "errors",
            "vtn_event_id", "event_id", "summary", "body_truncated", "body",
        )  # fmt: skip

        def lines():
            for row in rows.iterator(chunk_size=500):
                pk, at, *rest = row
                errors = rest[4]
                yield [pk, at.astimezone(tz).isoformat(), *rest[:4], " | ".join(errors), *rest[5:]]

        return csv_download(
            filename=f"{request.utility.slug}-grid-source-{self.source.pk}-messages.csv",
            header=self.HEADER,
            rows=lines(),
        )


class GridMessageDetailView(SourceMessagesMixin, DetailView):
    template_name = "dispatch/grid_message_detail.html"
    context_object_name = "message"

    def get_queryset(self):
        return GridMessage.objects.filter(source=self.source).select_related("event", "signal")

    def get_object(self, queryset=None):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["message_pk"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(source=self.source, **kwargs)
