"""The simulator as a partner API client: OAuth2 client credentials at ``/o/token/``, then
the partner endpoints of ``docs/partner-protocol.md`` — like any automaker's cloud would.

A 401 on a call means the token expired or was revoked: fetch a new one and try once more.
Connection errors and 5xx raise ``PortalUnavailable`` so the caller keeps what it was
sending and tries later.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests

logger = logging.getLogger(__name__)

SCOPES = ("vehicles:read", "vehicles:write", "telemetry:write", "commands:read", "commands:write")


class PortalUnavailable(Exception):
    """The portal did not answer usefully; try again later."""


class PortalRefused(Exception):
    """The portal answered 4xx: sending the same again would be refused again."""

    def __init__(self, status: int, body: Any):
        super().__init__(f"HTTP {status}: {str(body)[:300]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str


class PortalClient:
    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        scopes: tuple[str, ...] = SCOPES,
        timeout_seconds: float = 10.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.scopes = scopes
        self.timeout_seconds = timeout_seconds
        self.session = requests.Session()
        self.session.trust_env = False
        self._token: str | None = None
        self._lock = threading.Lock()
        self.token_requests = 0

    def close(self) -> None:
        """Close the kept-alive connections (a live server would otherwise keep serving them,
        and hold a database connection, after the simulator stopped)."""
        self.session.close()

    # --- Endpoints --------------------------------------------------------------------------

    def post_telemetry(self, readings: list[dict]) -> dict:
        return self.call("POST", "/api/v1/telemetry", json={"readings": readings})

    def post_acks(self, acks: list[dict]) -> dict:
        return self.call("POST", "/api/v1/commands/ack", json={"acks": acks})

    def post_opt_out(self, opt_out: dict) -> dict:
        return self.call("POST", "/api/v1/opt-outs", json=opt_out)

    def pull_commands(self, *, utility: str, limit: int) -> list[dict]:
        answer = self.call("GET", "/api/v1/commands", params={"utility": utility, "limit": limit})
        items = (
            answer.get("results", answer.get("commands", []))
            if isinstance(answer, dict)
            else answer
        )
        return items if isinstance(items, list) else []

    # --- Plumbing ---------------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs) -> Any:
        response = self._request(method, path, token=self._current_token(), **kwargs)
        if response.status_code == 401:
            response = self._request(method, path, token=self._current_token(renew=True), **kwargs)
        if response.status_code >= 500:
            raise PortalUnavailable(f"{method} {path}: HTTP {response.status_code}")
        body = _json(response)
        if response.status_code >= 400:
            raise PortalRefused(response.status_code, body)
        return body

    def _request(self, method: str, path: str, *, token: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(
                method,
                self.base_url + path,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=self.timeout_seconds,
                **kwargs,
            )
        except requests.RequestException as error:
            raise PortalUnavailable(f"{method} {path}: {error}") from error

    def _current_token(self, *, renew: bool = False) -> str:
        with self._lock:
            if renew or self._token is None:
                self._token = self._fetch_token()
            return self._token

    def _fetch_token(self) -> str:
        self.token_requests += 1
        try:
            response = self.session.post(
                self.base_url + "/o/token/",
                data={"grant_type": "client_credentials", "scope": " ".join(self.scopes)},
                auth=(self.credentials.client_id, self.credentials.client_secret),
                timeout=self.timeout_seconds,
            )
        except requests.RequestException as error:
            raise PortalUnavailable(f"token: {error}") from error
        if response.status_code >= 500:
            raise PortalUnavailable(f"token: HTTP {response.status_code}")
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise PortalRefused(response.status_code, body)
        return body["access_token"]


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]
