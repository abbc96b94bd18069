"""Shared shape of tenant-isolation cases (see tests/portal/test_tenant_isolation.py).

Each app lists its utility routes in ``tests/<app>/isolation_cases.py`` as
``{"utility:<url name>": Case(...)}``; the suite merges them and fails on any route without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """How to exercise one utility route for one utility.

    ``make`` creates the utility's object the route shows (and returns it, or None); ``kwargs``
    turns that object into the URL's extra arguments; ``marker`` is text that identifies the
    object on a list page.
    """

    make: Callable | None = None
    kwargs: Callable = field(default=lambda obj: {})
    marker: Callable | None = None
    method: str = "get"


def pk_kwargs(obj) -> dict:
    return {"pk": obj.pk}
