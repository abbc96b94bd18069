"""Tenant-isolation cases for interconnection pages (merged into
tests/portal/test_tenant_isolation.py): utility pages in INTERCONNECTION_CASES; installer and
AHJ workspace routes in INTERCONNECTION_ORG_ROUTES (route name → the test proving another
company's / jurisdiction's application is 404 there)."""

from __future__ import annotations

from django_scopes import scopes_disabled

from tests.interconnection.factories import application_at
from tests.isolation import Case, pk_kwargs


def _submitted(utility):
    return application_at(utility, to="submitted")


def _with_pto(utility):
    return application_at(utility, to="pto")


def _document(utility):
    app = application_at(utility, to="submitted")
    with scopes_disabled():
        return app.documents.first()


def _customer_name(app) -> str:
    return app.service_account.customer_name


INTERCONNECTION_CASES: dict[str, Case] = {
    "utility:interconnection_queue": Case(make=_submitted, marker=_customer_name),
    "utility:interconnection_report": Case(make=_with_pto),
    "utility:interconnection_report_csv": Case(make=_with_pto),
    "utility:interconnection_detail": Case(
        make=_submitted, kwargs=pk_kwargs, marker=_customer_name
    ),
    "utility:interconnection_act": Case(make=_submitted, kwargs=pk_kwargs, method="post"),
    "utility:interconnection_message": Case(make=_submitted, kwargs=pk_kwargs, method="post"),
    "utility:interconnection_pto_letter": Case(
        make=_with_pto, kwargs=pk_kwargs, marker=_customer_name
    ),
    "utility:interconnection_document": Case(
        make=_document, kwargs=lambda d: {"pk": d.application_id, "doc_pk": d.pk}
    ),
}

_PAGES = "tests/interconnection/test_party_isolation.py"
_MESSAGES = "tests/interconnection/test_messages.py"
INTERCONNECTION_ORG_ROUTES: dict[str, str] = {
    "installer_interconnection_list": f"{_PAGES}::test_it_lists_only_the_installers_own_applications",
    "installer_interconnection_new": f"{_PAGES}::test_it_offers_an_installer_only_utilities_it_is_approved_in",
    "installer_interconnection_detail": f"{_PAGES}::test_it_hides_another_companys_application_from_an_installer",
    "installer_interconnection_documents": f"{_PAGES}::test_it_hides_another_companys_application_from_an_installer",
    "installer_interconnection_answer": f"{_PAGES}::test_it_hides_another_companys_application_from_an_installer",
    "installer_interconnection_act": f"{_PAGES}::test_it_hides_another_companys_application_from_an_installer",
    "installer_interconnection_document": f"{_PAGES}::test_it_hides_another_companys_documents_from_an_installer",
    "installer_interconnection_message": f"{_MESSAGES}::test_it_hides_another_companys_thread_from_an_installer",
    "ahj_interconnection_list": f"{_PAGES}::test_it_lists_only_the_ahjs_jurisdiction",
    "ahj_interconnection_detail": f"{_PAGES}::test_it_hides_another_jurisdictions_application_from_an_ahj",
    "ahj_interconnection_act": f"{_PAGES}::test_it_hides_another_jurisdictions_application_from_an_ahj",
    "ahj_interconnection_document": f"{_PAGES}::test_it_hides_another_jurisdictions_application_from_an_ahj",
    "ahj_interconnection_message": f"{_MESSAGES}::test_it_hides_another_jurisdictions_thread_from_an_ahj",
}
