"""Moneybird's error answers: ``{"error": "..."}`` or, for a validation failure (422), ``{"error":
{"field": ["message", ...]}, "symbolic": {"field": ["code", ...]}}``, as its Rails API answers them."""

from __future__ import annotations

from typing import Any

from koppel.sandbox.http import HTTPException, Response

#: ``symbolic`` codes of the messages the sandbox writes.
SYMBOLS = {
    "is required": "required",
    "is invalid": "invalid",
    "is not a number": "not_a_number",
    "does not exist": "not_found",
    "can't be blank": "blank",
}


def error(status: int, message: Any, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": message}, status, headers)


def fail(status: int, message: Any, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(error(status, message, headers))


def not_found() -> HTTPException:
    return fail(404, "record not found")


def bad_request(message: str) -> HTTPException:
    """400: a parameter is missing or has the wrong type (Rails' ``ParameterMissing``)."""
    return fail(400, message)


class Invalid:
    """Collects validation messages per field; :meth:`check` raises the 422 when there are any."""

    def __init__(self) -> None:
        self.messages: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.messages.setdefault(field, []).append(message)

    def check(self) -> None:
        if self.messages:
            symbolic = {k: [SYMBOLS.get(m, "invalid") for m in v] for k, v in self.messages.items()}
            raise HTTPException(Response.json({"error": self.messages, "symbolic": symbolic}, 422))


def unprocessable(message: str) -> HTTPException:
    """422 with one message for the whole document (e.g. a payment on a draft)."""
    return fail(422, message)
