"""``import_tariff FILE --utility SLUG``: the import service from the command line."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_scopes import scope

from billing.models import Tariff
from tests.billing.rates_support import URDB_FILES
from tests.shared_data import shared_data

pytestmark = pytest.mark.django_db


def test_it_imports_a_real_file_and_prints_the_report(utility_a):
    out = StringIO()
    path = str(shared_data("urdb", URDB_FILES["pge"]))
    call_command("import_tariff", path, "--utility", utility_a.slug, stdout=out)
    assert "version 1" in out.getvalue()
    assert "NOT SUPPORTED: reactive power charge" in out.getvalue()
    call_command(
        "import_tariff",
        path,
        "--utility",
        utility_a.slug,
        "--effective-from",
        "2025-03-01",
        stdout=out,
    )
    assert "Version 1 now ends 2025-02-28." in out.getvalue()
    with scope(utility=utility_a.pk):
        assert Tariff.objects.count() == 2


def test_it_refuses_an_overlap_and_a_bad_date(utility_a):
    path = str(shared_data("urdb", URDB_FILES["fpl"]))
    call_command("import_tariff", path, "--utility", utility_a.slug, stdout=StringIO())
    with pytest.raises(CommandError, match="may not overlap"):
        call_command("import_tariff", path, "--utility", utility_a.slug, stdout=StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command("import_tariff", path, "--utility", utility_a.slug, "--effective-from", "soon")
