"""How the simulated bol answers: the v10 media type, ``Problem`` bodies and the errors as recorded."""

from __future__ import annotations

import json
from typing import Any

from koppel.sandbox.http import HTTPException, Response

MEDIA_TYPE = "application/vnd.retailer.v10+json"
CONTENT_TYPE = f"{MEDIA_TYPE};charset=UTF-8"
TOKEN_CONTENT_TYPE = "application/json;charset=UTF-8"
PROBLEMS = "https://api.bol.com/problems"
HOST = "Instance-112"
VALIDATION_TITLE = "Error validating request. Consult the bol.com API documentation for more information."
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
}


def body(obj: Any, status: int = 200) -> Response:
    """A v10 JSON answer; an empty list object is written ``{ }`` as bol does."""
    raw = b"{ }" if obj == {} else json.dumps(obj, separators=(",", ":")).encode()
    return Response(status, raw, {}, CONTENT_TYPE)


def problem(
    status: int,
    detail: str,
    instance: str,
    *,
    title: str | None = None,
    violations: list[dict[str, str]] | None = None,
) -> Response:
    """A ``Problem``: ``type``, ``title``, ``status``, ``detail``, ``host``, ``instance`` and, when there
    are any, ``violations`` (``[{"name", "reason"}]``)."""
    data: dict[str, Any] = {
        "type": PROBLEMS,
        "title": title or (VALIDATION_TITLE if violations else TITLES.get(status, "Error")),
        "status": status,
        "detail": detail,
        "host": HOST,
        "instance": instance,
    }
    if violations:
        data["violations"] = violations
    return body(data, status)


def invalid(instance: str, name: str, reason: str) -> HTTPException:
    """A 400 with one violation, to raise."""
    violations = [{"name": name, "reason": reason}]
    return HTTPException(problem(400, "Bad request", instance, violations=violations))


def not_found(instance: str, detail: str) -> HTTPException:
    return HTTPException(problem(404, detail, instance))


def choice_reason(value: str, allowed: tuple[str, ...]) -> str:
    return f"Request contains invalid value(s): '{value}', allowed values: {', '.join(allowed)}."


def too_many(seconds: int) -> Response:
    """The recorded 429: ``Retry-After`` and a short body without ``type``."""
    data = {
        "title": "Too Many Requests",
        "status": 429,
        "detail": f"Too many requests, retry in {seconds} seconds.",
    }
    response = body(data, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def server_error(status: int) -> Response:
    """A 5xx as bol's nginx writes it: a line of HTML, not JSON."""
    text = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
    return Response.text(text, status, content_type="text/html; charset=UTF-8")


def token_error(status: int, error: str, description: str) -> Response:
    """The token endpoint's OAuth errors, e.g. ``{"error": "invalid_client", "error_description": "Bad client
    credentials"}``."""
    raw = json.dumps({"error": error, "error_description": description}).encode()
    return Response(status, raw, {}, TOKEN_CONTENT_TYPE)
