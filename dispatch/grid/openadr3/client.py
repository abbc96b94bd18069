"""The portal's HTTP client for one OpenADR 3.0.x VTN (REST/JSON, OAuth2 client credentials).

Every call goes through ``VtnClient._call``: it gets (or re-uses) a bearer token from the
VTN's token URL, sends the request, retries once with a fresh token when the VTN answers 401
(an access token that expired early or was revoked), checks the answer is JSON of the shape
the operation returns, and reports the exchange to ``on_exchange`` (the protocol message
log) whatever happened. Failures raise one of ``VtnError``'s kinds so the runner can tell a
token refusal from an outage from a garbage answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
PAGE_SIZE = 50  # the most the OpenAPI document allows per page (``limit`` maximum)
MAX_PAGES = 200  # 10,000 objects: a VTN that pages forever is cut off
# A token is renewed this long (or a tenth of its lifetime, if less) before the VTN said it
# expires, so a request never leaves with a token that lapses on the way.
TOKEN_MARGIN_SECONDS = 30.0
DEFAULT_TOKEN_SECONDS = 3600.0  # when the VTN does not say (``expires_in`` is optional)


class VtnError(Exception):
    """A call to the VTN failed; ``kind`` says how (one of the constants below)."""

    TOKEN = "token"  # noqa: S105 - a kind of failure, not a secret. The token URL refused the credentials (4xx) or answered garbage
    UNREACHABLE = "unreachable"  # connection refused, timeout, 5xx (token URL included)
    REFUSED = "refused"  # a 4xx other than on the token
    INVALID = "invalid"  # the answer is not the JSON the operation returns

    def __init__(self, kind: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.kind, self.status = kind, status


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange with the VTN, for the message log."""

    operation: str
    method: str
    url: str
    request_body: Any
    status: int | None
    response_body: Any
    error: str


ExchangeHook = Callable[[Exchange], None]


class VtnClient:
    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout_seconds: float = 10.0,
        on_exchange: ExchangeHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.client_id, self.client_secret = client_id, client_secret
        self.timeout = timeout_seconds
        self.on_exchange = on_exchange or (lambda exchange: None)
        self.clock = clock
        self.session = requests.Session()
        self._token: str | None = None
        self._token_expires: float = 0.0

    # --- OAuth2 client credentials ---------------------------------------------------------

    def token(self) -> str:
        """A bearer token the VTN still honours (renewed ahead of its expiry)."""
        if self._token and self.clock() < self._token_expires:
            return self._token
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        shown = {**form, "client_secret": "(hidden)"}
        status, body, error = None, None, ""
        try:
            response = self.session.post(
                self.token_url, data=form, timeout=self.timeout, allow_redirects=False
            )
            status = response.status_code
            body = _json(response)
            if status != 200:
                kind = VtnError.UNREACHABLE if status >= 500 else VtnError.TOKEN
                raise VtnError(kind, _refusal("The token URL", status, body), status=status)
            token = body.get("access_token") if isinstance(body, dict) else None
            if (
                not isinstance(token, str)
                or not token
                or body.get("token_type")
                not in (
                    "Bearer",
                    "bearer",
                )
            ):
                raise VtnError(
                    VtnError.TOKEN, "The token URL answered without a bearer access token."
                )
            lifetime = body.get("expires_in", DEFAULT_TOKEN_SECONDS)
            if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
                lifetime = DEFAULT_TOKEN_SECONDS
        except requests.RequestException as exc:
            error = f"The token URL could not be reached: {type(exc).__name__}."
            raise VtnError(VtnError.UNREACHABLE, error) from None
        except VtnError as exc:
            error = str(exc)
            raise
        finally:
            logged = {"access_token": "(hidden)"} if status == 200 and not error else body
            self.on_exchange(
                Exchange("fetchToken", "POST", self.token_url, shown, status, logged, error)
            )
        # Renewed ahead of the VTN's expiry: a tenth of its lifetime, at most the margin.
        margin = min(TOKEN_MARGIN_SECONDS, float(lifetime) / 10)
        self._token, self._token_expires = token, self.clock() + float(lifetime) - margin
        return token

    def forget_token(self) -> None:
        self._token, self._token_expires = None, 0.0

    # --- Operations of the OpenAPI document ------------------------------------------------

    def programs(self) -> list[dict]:
        return self._pages("searchAllPrograms", "/programs", {})

    def events(self) -> list[dict]:
        return self._pages("searchAllEvents", "/events", {})

    def ven_named(self, ven_name: str) -> dict | None:
        found = self._call("searchVens", "GET", "/vens", params={"venName": ven_name}, many=True)
        return next((v for v in found if v.get("venName") == ven_name), None)

    def create_ven(self, ven_name: str) -> dict:
        return self._call("createVen", "POST", "/vens", body={"venName": ven_name})

    def subscriptions(self, client_name: str) -> list[dict]:
        return self._pages("searchSubscriptions", "/subscriptions", {"clientName": client_name})

    def create_subscription(self, subscription: dict) -> dict:
        return self._call("createSubscription", "POST", "/subscriptions", body=subscription)

    def update_subscription(self, subscription_id: str, subscription: dict) -> dict:
        return self._call(
            "updateSubscription", "PUT", f"/subscriptions/{subscription_id}", body=subscription
        )

    def create_report(self, report: dict) -> dict:
        return self._call("createReport", "POST", "/reports", body=report)

    # --- The one way out -------------------------------------------------------------------

    def _pages(self, operation: str, path: str, params: dict) -> list[dict]:
        found: list[dict] = []
        for page in range(MAX_PAGES):
            batch = self._call(
                operation,
                "GET",
                path,
                params={**params, "skip": page * PAGE_SIZE, "limit": PAGE_SIZE},
                many=True,
            )
            found.extend(batch)
            if len(batch) < PAGE_SIZE:
                return found
        raise VtnError(VtnError.INVALID, f"{operation}: more than {MAX_PAGES} pages.")

    def _call(self, operation, method, path, *, params=None, body=None, many=False):
        for attempt in (1, 2):
            token = self.token()
            url = f"{self.base_url}{path}"
            status, answer, error = None, None, ""
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.timeout,
                    allow_redirects=False,
                )
                status = response.status_code
                # The 3.0.1 document answers a refused token with 403 (it lists no 401);
                # other VTNs say 401. Either way: one more try with a fresh token.
                if status in (401, 403) and attempt == 1:
                    error = f"{status}: the access token was refused; fetching a new one."
                    self.forget_token()
                    continue
                answer = _json(response)
                if status >= 500:
                    raise VtnError(
                        VtnError.UNREACHABLE, _refusal(operation, status, answer), status=status
                    )
                if status >= 400:
                    raise VtnError(
                        VtnError.REFUSED, _refusal(operation, status, answer), status=status
                    )
                expected = list if many else dict
                if not isinstance(answer, expected) or (
                    many and not all(isinstance(item, dict) for item in answer)
                ):
                    raise VtnError(
                        VtnError.INVALID,
                        f"{operation}: the VTN answered {type(answer).__name__}, not a JSON "
                        f"{'array of objects' if many else 'object'}.",
                        status=status,
                    )
                return answer
            except requests.RequestException as exc:
                error = f"{operation}: the VTN could not be reached ({type(exc).__name__})."
                raise VtnError(VtnError.UNREACHABLE, error) from None
            except VtnError as exc:
                error = str(exc)
                raise
            finally:
                self.on_exchange(Exchange(operation, method, url, body, status, answer, error))
        raise AssertionError("unreachable: the second attempt returns or raises")


def _json(response: requests.Response) -> Any:
    raw = response.content[: MAX_RESPONSE_BYTES + 1]
    if len(raw) > MAX_RESPONSE_BYTES:
        raise VtnError(VtnError.INVALID, "The VTN's answer is larger than 4 MB.")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise VtnError(
            VtnError.INVALID,
            f"The VTN answered {response.status_code} with a body that is not JSON.",
            status=response.status_code,
        ) from None


def _refusal(what: str, status: int, body: Any) -> str:
    detail = ""
    if isinstance(body, dict):
        detail = str(
            body.get("detail")
            or body.get("error_description")
            or body.get("title")
            or body.get("error")
            or ""
        )
    return f"{what} answered {status}" + (f": {detail[:200]}" if detail else ".")
