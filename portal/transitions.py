"""State machines' shared checks: a move against the model's ``ALLOWED`` map, and the state
the page showed against the state the row is in now.

Each model keeps its ``ALLOWED`` map (state → the states it may move to) beside it, and each
app one service per transition that locks the row and then calls these, so the refusals read
the same everywhere. An app's own error classes derive from the ones here and from the app's
error base, so its pages and API catch them as before.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from django.db import models

from portal.errors import DomainError


class StaleState(DomainError):
    """The page was loaded when the object was in another state; nothing was done."""

    code = "stale_state"


class TransitionNotAllowed(DomainError):
    code = "invalid_transition"


def check_expected(
    obj: models.Model,
    *,
    expected: str | None,
    noun: str,
    field: str = "status",
    error: type[StaleState] = StaleState,
) -> None:
    """Refuse to act on ``obj`` when its ``field`` is no longer what the page showed
    (``expected``; None: the caller showed no state, nothing to compare)."""
    current = getattr(obj, field)
    if expected and current != expected:
        shown = getattr(obj, f"get_{field}_display")()
        raise error(
            f"This {noun} changed while you were looking at it: it is now “{shown}”. "
            "Nothing was done.",
            status=current,
        )


def check_move(
    obj: models.Model,
    *,
    to: str,
    allowed: Mapping[str, Collection[str]],
    noun: str,
    field: str = "status",
    error: type[TransitionNotAllowed] = TransitionNotAllowed,
) -> str:
    """Refuse a move of ``obj``'s ``field`` to ``to`` that ``allowed`` does not list; return the
    state it moves from."""
    current = getattr(obj, field)
    if to not in allowed.get(current, ()):
        shown = getattr(obj, f"get_{field}_display")()
        label = dict(obj._meta.get_field(field).flatchoices).get(to, to)
        raise error(
            f"{noun.capitalize()} that is “{shown}” cannot become “{label}”.", status=current
        )
    return current
