"""The partner API's one error shape, checked the same way by every API test."""

from __future__ import annotations


def assert_api_error(response, status: int, code: str) -> dict:
    """Check the error shape and return the ``error`` object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == response["X-Request-ID"]
    return error
