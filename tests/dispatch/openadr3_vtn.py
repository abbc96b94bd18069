"""A loopback OpenADR 3.0.1 VTN for the tests: a real HTTP server (werkzeug, in a thread) that
serves the paths and shapes of the Alliance's published OpenAPI document, loaded at test time
from the shared sample data (never copied into the repository).

Every request it receives and every answer it gives is validated against that document with
openapi-core, and so is every notification it sends to a subscription's callback URL (the
document's ``notification`` schema): each violation is kept in ``violations``, and
``assert_clean()`` (called by the fixture after each test) fails the test on any. No VTN
written in Python is on PyPI (the Alliance's reference VTN is Java, openleadr-rs is Rust and
ships no wheel), so this small one is the peer.

What it does: OAuth2 client credentials at ``/auth/token`` (tokens that expire after
``token_seconds``, revocable), programs, events (created, updated, deleted by the test, with a
notification to each matching subscription), VENs, subscriptions and reports (kept for the
test to read). ``failures`` makes the next calls answer 500; ``garbage`` answers 200 with a
body that is not JSON (a violation it expects, so it is not counted).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS30Validator
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.net import free_port
from tests.shared_data import shared_data

BASE_PATH = "/openadr3/3.0.1"
CLIENT_ID, CLIENT_SECRET = "portal-ven", "s3cret-of-the-ven"


@cache
def _document_text() -> str:
    return shared_data("openadr3", "openadr3-3.0.1.yaml").read_text()


def openapi_document() -> dict:
    """The published 3.0.1 document (a fresh copy: the caller may set its server), with its
    discriminators made explicit (``_map_discriminators``)."""
    document = yaml.safe_load(_document_text())
    _map_discriminators(document, document)
    return document


def _map_discriminators(node: Any, document: dict) -> None:
    """The document's discriminators on ``objectType`` give no mapping, so a validator looks
    for a schema named after the value (``#/components/schemas/EVENT``), which does not exist:
    the schemas are named in lower case and each pins its ``objectType`` with a one-value
    enum. Map each value to the schema that pins it, as the document means."""
    if isinstance(node, list):
        for item in node:
            _map_discriminators(item, document)
        return
    if not isinstance(node, dict):
        return
    for key in ("oneOf", "anyOf"):
        discriminator = node.get("discriminator")
        if key in node and isinstance(discriminator, dict) and "mapping" not in discriminator:
            mapping = {}
            for choice in node[key]:
                name = choice.get("$ref", "").rsplit("/", 1)[-1]
                schema = document["components"]["schemas"].get(name, {})
                prop = schema.get("properties", {}).get(discriminator["propertyName"], {})
                for value in prop.get("enum", []):
                    mapping[value] = choice["$ref"]
            discriminator["mapping"] = mapping
    for value in node.values():
        _map_discriminators(value, document)


def notification_validator() -> OAS30Validator:
    document = openapi_document()
    return OAS30Validator(
        {"$ref": "#/components/schemas/notification", "components": document["components"]}
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Callback:
    url: str
    bearer: str | None
    body: dict
    status: int | None
    answer: str


@dataclass
class LoopbackVtn:
    port: int = field(default_factory=free_port)
    token_seconds: int = 3600
    violations: list[str] = field(default_factory=list)
    requests_seen: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, token
    tokens_issued: list[str] = field(default_factory=list)
    programs: dict[str, dict] = field(default_factory=dict)
    events: dict[str, dict] = field(default_factory=dict)
    vens: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    reports: dict[str, dict] = field(default_factory=dict)
    callbacks: list[Callback] = field(default_factory=list)
    failures: int = 0
    garbage: bool = False

    def __post_init__(self):
        document = openapi_document()
        document["servers"] = [{"url": self.url}]
        self.api = OpenAPI.from_dict(document)
        self.notification = notification_validator()
        self._tokens: dict[str, float] = {}  # token → expires at (monotonic)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/auth/token"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)

    def assert_clean(self) -> None:
        assert not self.violations, "OpenAPI violations:\n" + "\n".join(self.violations)

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    # --- What the grid operator does (the test) --------------------------------------------

    def add_program(self, name: str, **fields) -> dict:
        program = self._stamp("PROGRAM", {"programName": name, **fields})
        self.programs[program["id"]] = program
        self._notify(program["id"], "PROGRAM", "POST", program)
        return program

    def add_event(self, program: dict, **fields) -> dict:
        event = self._stamp("EVENT", {"programID": program["id"], **fields})
        self.events[event["id"]] = event
        self._notify(program["id"], "EVENT", "POST", event)
        return event

    def update_event(self, event_id: str, **fields) -> dict:
        event = {**self.events[event_id], **fields}
        time.sleep(0.002)  # a later modificationDateTime, whatever the clock's resolution
        event["modificationDateTime"] = now_iso()
        self.events[event_id] = event
        self._notify(event["programID"], "EVENT", "PUT", event)
        return event

    def delete_event(self, event_id: str) -> dict:
        event = self.events.pop(event_id)
        self._notify(event["programID"], "EVENT", "DELETE", event)
        return event

    def _stamp(self, object_type: str, fields: dict) -> dict:
        stamp = now_iso()
        return {
            "id": f"{object_type.lower()}-{next(self._ids)}",
            "createdDateTime": stamp,
            "modificationDateTime": stamp,
            "objectType": object_type,
            **fields,
        }

    def _notify(self, program_id: str, object_type: str, operation: str, obj: dict) -> None:
        wanted = {"POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}[operation]
        body = {"objectType": object_type, "operation": operation, "object": obj}
        for error in self.notification.iter_errors(body):
            self.violations.append(f"notification {object_type} {operation}: {error.message}")
        for subscription in list(self.subscriptions.values()):
            if subscription["programID"] != program_id:
                continue
            for ops in subscription["objectOperations"]:
                if object_type in ops["objects"] and wanted in ops["operations"]:
                    self._call_back(ops["callbackUrl"], ops.get("bearerToken"), body)

    def _call_back(self, url: str, bearer: str | None, body: dict) -> None:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        try:
            answer = requests.post(url, json=body, headers=headers, timeout=30)
            self.callbacks.append(Callback(url, bearer, body, answer.status_code, answer.text))
        except requests.RequestException as exc:
            self.callbacks.append(Callback(url, bearer, body, None, str(exc)))

    # --- HTTP ------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        openapi_request = WerkzeugOpenAPIRequest(request)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unsupported scheme type": oauth2 is checked here
            errors = list(self.api.iter_request_errors(openapi_request))
        label = f"{request.method} {request.path}"
        if errors:
            self.violations.append(f"request {label}: {'; '.join(_describe(e) for e in errors)}")
            return self._checked(openapi_request, _problem(400, "Bad Request", str(errors[0])))
        if self.garbage:
            return Response("<html>gateway error</html>", 200, content_type="application/json")
        if self.failures:
            self.failures -= 1
            return self._checked(openapi_request, _problem(500, "Internal Server Error", "down"))
        path = request.path.removeprefix(BASE_PATH)
        if path == "/auth/token":
            return self._checked(openapi_request, self._token(request))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        self.requests_seen.append((request.method, path, token))
        expires = self._tokens.get(token)
        if expires is None or time.monotonic() >= expires:
            response = _problem(403, "Forbidden", "The access token is unknown or expired.")
        else:
            with self._lock:
                response = self._route(request, path)
        return self._checked(openapi_request, response)

    def _checked(self, openapi_request, response: Response) -> Response:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errors = list(
                self.api.iter_response_errors(openapi_request, WerkzeugOpenAPIResponse(response))
            )
        if errors:
            self.violations.append(
                f"response to {openapi_request.method.upper()} {openapi_request.path}: "
                + "; ".join(_describe(e) for e in errors)
            )
        return response

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _json({"error": "invalid_client", "error_description": "Unknown client."}, 400)
        token = f"tok-{next(self._ids)}-{int(time.time() * 1000)}"
        self._tokens[token] = time.monotonic() + self.token_seconds
        self.tokens_issued.append(token)
        return _json(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_seconds}
        )

    def _route(self, request: Request, path: str) -> Response:
        parts = path.strip("/").split("/")
        collection = {
            "programs": self.programs,
            "events": self.events,
            "vens": self.vens,
            "subscriptions": self.subscriptions,
            "reports": self.reports,
        }.get(parts[0])
        if collection is None:
            return _problem(404, "Not Found", path)
        if len(parts) == 1 and request.method == "GET":
            items = [o for o in collection.values() if _matches(o, request.args)]
            skip, limit = int(request.args.get("skip", 0)), int(request.args.get("limit", 50))
            return _json(items[skip : skip + limit])
        if len(parts) == 1 and request.method == "POST":
            body = request.get_json()
            if parts[0] == "vens" and any(
                v["venName"] == body["venName"] for v in self.vens.values()
            ):
                return _problem(409, "Conflict", "A VEN of that name exists.")
            created = self._stamp(parts[0].rstrip("s").upper(), body)
            collection[created["id"]] = created
            return _json(created, 201)
        if len(parts) == 2 and parts[1] in collection:
            if request.method == "GET":
                return _json(collection[parts[1]])
            if request.method == "PUT":
                updated = {**collection[parts[1]], **request.get_json()}
                updated["modificationDateTime"] = now_iso()
                collection[parts[1]] = updated
                return _json(updated)
            if request.method == "DELETE":
                return _json(collection.pop(parts[1]))
        return _problem(404, "Not Found", path)


def _matches(obj: dict, args) -> bool:
    for name in ("programID", "clientName", "venName"):
        if name in args and obj.get(name) != args[name]:
            return False
    return True


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _problem(status: int, title: str, detail: str) -> Response:
    return _json({"title": title, "status": status, "detail": detail[:500]}, status)


def _describe(error: Exception) -> str:
    causes = []
    while error is not None:
        causes.append(f"{type(error).__name__}: {error}")
        error = error.__cause__
    return " <- ".join(causes)[:1000]
