"""The partner API keeps its published contract (finding 11 of the security review).

Schemathesis reads ``/api/schema/`` from the WSGI app and sends generated requests to every
operation, with a real partner client's token (every scope) and real objects to find (half
the generated cases name them in their path): a registered vehicle, a program with terms,
an enrollment. Requests are valid and invalid alike. Each answer must be
no server error, a documented status code and content type, and a body that matches the
documented schema. Bounded (a fixed number of examples per operation, derandomized, no
shrinking) so the whole run takes a minute or two on two cores; `make test` runs it.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.enrollment.factories import ProgramFactory
from tests.enrollment.programs_support import eligible_vehicle, submit

EXAMPLES_PER_OPERATION = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def partner_world(db, issue_client, obtain_token, utility_a):
    """A partner client with every scope in Alpha, and something of its own to read."""
    credentials = issue_client("Contract Motors", utility_a.slug)
    partner = credentials.partner_client.partner
    program = ProgramFactory(utility=utility_a, slug="summer-v2h")
    vehicle = eligible_vehicle(utility_a, partner=partner, partner_vehicle_id="veh-1")
    enrollment = submit(program, vehicle)
    scopes = " ".join(sorted(credentials.scopes))
    return {
        "token": obtain_token(credentials, scope=scopes),
        # Path parameters that name real objects, so that operations answer 200 too.
        "ids": {"vin": vehicle.vin, "vehicle_id": "veh-1", "id": enrollment.pk, "slug": "alpha"},
    }


@pytest.fixture
def wsgi_app():
    """The project's WSGI app in this test's transaction: as Django's test client does, the
    request signals must not close the test's database connection."""
    from portal.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_api_answers_as_its_schema_says(partner_world, wsgi_app):
    application = wsgi_app
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    headers = {"Authorization": f"Bearer {partner_world['token']}"}
    violations: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # the whole API, not an empty schema

    for operation in operations:

        def aimed(case, ids=partner_world["ids"]):
            for name in case.path_parameters or {}:
                if name in ids:
                    case.path_parameters[name] = ids[name]
            return case

        valid = operation.as_strategy(GenerationMode.POSITIVE)
        invalid = operation.as_strategy(GenerationMode.NEGATIVE)

        @given(case=st.one_of(valid, valid.map(aimed), invalid, invalid.map(aimed)))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report, don't minimize
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def answers_as_documented(case):
            # Each request in its own savepoint, as each has its own transaction in
            # production: one request's database error must not poison the next.
            savepoint = transaction.savepoint()
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            finally:
                transaction.savepoint_rollback(savepoint)

        try:
            answers_as_documented()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, reported
            violations[operation.label] = _describe(exc)

    assert not violations, "\n\n".join(f"{label}:\n{text}" for label, text in violations.items())


def _describe(exc: BaseException) -> str:
    parts = [str(exc)]
    if isinstance(exc, BaseExceptionGroup):
        parts += [str(sub) for sub in exc.exceptions]
    return "\n".join(parts)[:3000]
