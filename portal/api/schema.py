"""OpenAPI additions: the error shape, and which errors each operation can answer with.

A drf-spectacular postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``), so
endpoints declare only their success responses and stay in step with ``portal.api.errors``.
"""

from __future__ import annotations

from typing import Any

from portal.api.errors import ErrorCode

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details", "request_id"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [code.value for code in ErrorCode],
                    "description": "Stable, machine-readable; branch on this, not on message.",
                },
                "message": {"type": "string", "description": "For people; may change."},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": (
                        'For validation_failed, field → [{"message", "code"}] (errors not '
                        "tied to a field under non_field_errors); otherwise extra context "
                        "such as required_scopes or retry_after_seconds."
                    ),
                },
                "request_id": {
                    "type": "string",
                    "description": "Also in the X-Request-ID response header.",
                },
            },
        }
    },
}

# name: (status, description, extra response fields)
ERROR_RESPONSES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ValidationFailed": ("400", "Invalid input (validation_failed, malformed_request).", {}),
    "NotAuthenticated": ("401", "No access token, or an invalid or expired one.", {}),
    "Forbidden": (
        "403",
        "Not a partner client's token (partner_client_required), or a missing scope "
        "(insufficient_scope).",
        {},
    ),
    "NotFound": (
        "404",
        "No such object, or one outside the utilities this client may act in.",
        {},
    ),
    "PayloadTooLarge": (
        "413",
        "The body is larger than the server accepts (payload_too_large; details.max_bytes).",
        {},
    ),
    "RateLimited": (
        "429",
        "Too many requests from this client (rate_limited).",
        {
            "headers": {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before retrying.",
                }
            }
        },
    ),
    "InternalError": ("500", "Unexpected error (internal_error).", {}),
}


def document_errors(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    components.setdefault("responses", {}).update(
        {
            name: {"description": description, "content": error_body, **extra}
            for name, (_, description, extra) in ERROR_RESPONSES.items()
        }
    )
    for url, operations in result.get("paths", {}).items():
        for operation in operations.values():
            names = ["RateLimited", "InternalError"]
            if operation.get("security"):
                names += ["NotAuthenticated", "Forbidden"]
            parameters = operation.get("parameters", [])
            names_in = {parameter["name"] for parameter in parameters}
            # A page past the end, or a utility slug the client may not act in, is a 404 too.
            if "{" in url or {"page", "utility"} & names_in:
                names.append("NotFound")
            if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
                names.append("ValidationFailed")  # a bad body or query parameter
            if "requestBody" in operation:
                names.append("PayloadTooLarge")
            responses = operation.setdefault("responses", {})
            for name in names:
                responses.setdefault(
                    ERROR_RESPONSES[name][0], {"$ref": f"#/components/responses/{name}"}
                )
            operation["responses"] = dict(sorted(responses.items()))
    return result
