"""Errors and rendering (JSON or XML, as the request asks) and the parsing of request bodies (JSON, XML or
form-encoded)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from koppel.sandbox.http import Request, Response

from .common import _XML_INVALID, XML_TYPE


class ApiError(Exception):
    """Raised anywhere below an API handler; answered as ``{"error": message}`` (``<error>`` in XML) in the
    format the request negotiated."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = dict(headers or {})


def _bad(message: str) -> ApiError:
    return ApiError(message, 400)


def _not_found() -> ApiError:
    return ApiError("Not found", 404)


@dataclass(slots=True)
class Reply:
    """A handler's answer before it is rendered as JSON or XML; ``root`` names the XML root element."""

    data: Any
    root: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def negotiate(request: Request) -> str:
    """``"json"`` or ``"xml"``: the format of the answer (and of its errors, for a pdf request too)."""
    wanted = request.query.get("format", "").strip().lower()
    if wanted in ("json", "xml"):
        return wanted
    accept = request.headers.get("accept", "").lower()
    content_type = request.headers.get("content-type", "").lower()
    if "application/json" in accept or content_type.startswith("application/json"):
        return "json"
    return "xml"


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else "item"


def _xml_element(tag: str, value: Any) -> etree._Element:
    element = etree.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_xml_element(key, item))
    elif isinstance(value, list):
        child = _singular(tag)
        for item in value:
            element.append(_xml_element(child, item))
    elif isinstance(value, bool):
        element.text = "yes" if value else "no"
    elif value is not None:
        element.text = _XML_INVALID.sub("", str(value))
    return element


def to_xml(root: str, data: Any) -> bytes:
    """``data`` as an XML document: objects as elements per field, lists as the singular element each."""
    return etree.tostring(_xml_element(root, data), xml_declaration=True, encoding="UTF-8")


def render(
    data: Any, root: str, fmt: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if fmt == "json":
        return Response.json(data, status, headers)
    return Response(status, to_xml(root, data), dict(headers or {}), XML_TYPE)


def error_response(message: str, status: int, fmt: str, headers: dict[str, str] | None = None) -> Response:
    if fmt == "json":
        return Response.json({"error": message}, status, headers)
    return render(message, "error", fmt, status, headers)


# ---------------------------------------------------------------------------- request bodies

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_XML_LISTS = frozenset({"items", "contacts", "payments"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _xml_value(element: etree._Element) -> Any:
    children = [child for child in element if isinstance(child.tag, str)]  # no comments or PIs
    if element.tag in _XML_LISTS:
        return [_xml_value(child) for child in children]
    if children:
        return {child.tag: _xml_value(child) for child in children}
    return element.text or ""


def _form(body: bytes) -> dict[str, str]:
    data: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True):
        data.setdefault(key, value)
    return data


def _decode(body: bytes, content_type: str, decimals: bool) -> Any:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return _form(body)
    if kind.endswith("/xml") or kind.endswith("+xml"):
        return _xml_value(etree.fromstring(body, _XML_PARSER))
    if decimals:  # money stays exact: JSON numbers with a fraction become Decimal, never float
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    return json.loads(body, parse_constant=_reject_constant)


def parse_body(request: Request) -> Any:
    """The request body (JSON unless the content type says form or XML); ``{}`` when there is none."""
    if not request.body.strip():
        return {}
    try:
        return _decode(request.body, request.headers.get("content-type", ""), decimals=True)
    except (ValueError, etree.XMLSyntaxError):
        raise _bad("Invalid request body") from None


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _bad("Invalid request body: expected an object")
    return data
