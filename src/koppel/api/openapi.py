"""The API's OpenAPI document made to say every answer an operation can give, whichever router declared
it: ``401`` where a token is needed, ``422`` where parameters or a body are validated, ``400`` where a
body that is no JSON at all is refused. Routers of other apps (marketplace) need not repeat them."""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI

ERROR = {"$ref": "#/components/schemas/ErrorOut"}
INVALID = {"$ref": "#/components/schemas/InvalidOut"}
#: The answers added where missing, with the condition on the operation.
USUAL = {
    "400": ("A body that cannot be read as JSON (BAD_REQUEST).", ERROR),
    "401": ("No valid API token (UNAUTHORIZED).", ERROR),
    "422": ("The request's shape is refused (VALIDATION_ERROR), with the reason.", INVALID),
}


def usual_answers(operation: dict[str, Any]) -> list[str]:
    statuses = []
    if "requestBody" in operation:
        statuses.append("400")
    if operation.get("security"):
        statuses.append("401")
    if operation.get("parameters") or "requestBody" in operation:
        statuses.append("422")
    return statuses


def complete_errors(schema: dict[str, Any]) -> None:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status in usual_answers(operation):
                if status not in responses:
                    description, ref = USUAL[status]
                    responses[status] = {
                        "description": description,
                        "content": {"application/json": {"schema": ref}},
                    }


class KoppelAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document lists the usual error answers of every operation."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        complete_errors(schema)
        return schema
