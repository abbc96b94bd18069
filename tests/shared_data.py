"""The real public sample data beside the project (``../shared/data``: URDB tariffs, Green Button
feeds, the OpenADR 3 API documents). It is not part of the repository (third-party files stay
outside it), so a test that reads it is skipped, with the reason, where it is absent.
``PORTAL_SHARED_DATA`` points elsewhere when the checkout does not sit beside ``shared/``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_PROJECT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    for candidate in (
        os.environ.get("PORTAL_SHARED_DATA"),
        _PROJECT.parent / "shared" / "data",
        "/work/shared/data",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def shared_data(*parts: str) -> Path:
    """The path of one sample file; skips the calling test when the sample data is not here."""
    base = shared_data_dir()
    if base is None or not base.joinpath(*parts).exists():
        pytest.skip(
            f"sample data {'/'.join(parts)} not found beside the project (set PORTAL_SHARED_DATA)"
        )
    return base.joinpath(*parts)
