"""Every URL pattern of the project, so suites can insist that each one is covered."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    name: str  # namespaced name ("utility:dashboard"), or the route string when unnamed
    route: str  # the full pattern string, e.g. "u/<slug:utility_slug>/customers/<int:pk>/"
    callback: object

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)


def all_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}{p.namespace}:"
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                full = prefix + str(p.pattern)
                name = f"{namespace}{p.name}" if p.name else full
                routes.append(Route(name=name, route=full, callback=p.callback))

    walk(get_resolver().url_patterns, "", "")
    return routes
