"""Pagination of partner API lists: ``?page=N&page_size=M`` (``REST_FRAMEWORK["PAGE_SIZE"]``
by default, at most 1000), answered with count, next, previous and results."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000
