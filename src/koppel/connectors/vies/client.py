"""A client of the VIES REST API: ``POST {base}/check-vat-number`` with ``{"countryCode", "vatNumber"}``.

The answer (HTTP 200) carries ``valid`` and, when the member state's register did not answer,
``userError`` (``MS_UNAVAILABLE``, ``TIMEOUT``, ``MS_MAX_CONCURRENT_REQ`` ...); a failure of VIES itself is
``{"actionSucceed": false, "errorWrappers": [{"error": "SERVICE_UNAVAILABLE", "message": ...}]}``, with a
4xx or 5xx status. Only ``valid`` true or false (and ``INVALID_INPUT``, VIES refusing the number's form) is an
answer about the number: anything else, a timeout or an unreadable reply is
:attr:`~koppel.documents.vat_rules.ViesOutcome.UNAVAILABLE`, never "invalid".
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from koppel.documents.vat import vat_compact
from koppel.documents.vat_rules import VatNumberCheck, ViesOutcome

VIES_URL = "https://ec.europa.eu/taxation_customs/vies/rest-api"
TIMEOUT_SECONDS = 10.0
#: ``userError`` values that answer the question (anything else means the register did not answer).
ANSWERS = frozenset({"VALID", "INVALID"})
REFUSED_INPUT = "INVALID_INPUT"


def base_url() -> str:
    """``KOPPEL_VIES_URL`` (the sandbox's ``{url}/vies/rest-api``), else the real VIES."""
    return os.environ.get("KOPPEL_VIES_URL", "").rstrip("/") or VIES_URL


def split(vat_number: str) -> tuple[str, str]:
    """``BE 0403.019.261`` → ``("BE", "0403019261")``; VIES writes Greece ``EL``."""
    compact = vat_compact(vat_number)
    country, number = compact[:2], compact[2:]
    return ("EL" if country == "GR" else country), number


class ViesClient:
    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or base_url()).rstrip("/")
        self.http = httpx.Client(timeout=timeout, transport=transport, headers={"Accept": "application/json"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ViesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self, vat_number: str) -> VatNumberCheck:
        """What VIES says about ``vat_number`` (with its country prefix)."""
        country, number = split(vat_number)
        compact = f"{country}{number}"
        try:
            response = self.http.post(
                f"{self.url}/check-vat-number", json={"countryCode": country, "vatNumber": number}
            )
        except httpx.HTTPError as exc:
            return unavailable(compact, f"no answer from VIES ({type(exc).__name__})")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return unavailable(compact, f"VIES answered HTTP {response.status_code} without JSON")
        return read_answer(compact, response.status_code, body)


def read_answer(vat_number: str, status: int, body: dict[str, Any]) -> VatNumberCheck:
    """The outcome of one VIES answer (see the module)."""
    errors = body.get("errorWrappers")
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("error") or "UNKNOWN_ERROR")
        if code == REFUSED_INPUT:
            return VatNumberCheck(vat_number, ViesOutcome.INVALID, "VIES refuses the number (INVALID_INPUT)")
        return unavailable(vat_number, f"VIES answered {code}")
    user_error = str(body.get("userError") or "")
    if user_error == REFUSED_INPUT:
        return VatNumberCheck(vat_number, ViesOutcome.INVALID, "VIES refuses the number (INVALID_INPUT)")
    if user_error and user_error not in ANSWERS:
        return unavailable(vat_number, f"VIES answered {user_error}")
    valid = body.get("valid", body.get("isValid"))
    if status != 200 or not isinstance(valid, bool):
        return unavailable(vat_number, f"VIES answered HTTP {status} without a verdict")
    checked_at = str(body.get("requestDate") or "")[:10]
    reference = str(body.get("requestIdentifier") or "")
    if not valid:
        message = "not registered as an active VAT number in VIES"
        return VatNumberCheck(vat_number, ViesOutcome.INVALID, message, checked_at, reference)
    name = str(body.get("name") or "").strip()
    message = f"registered to {name}" if name and name != "---" else "registered"
    return VatNumberCheck(vat_number, ViesOutcome.VALID, message, checked_at, reference)


def unavailable(vat_number: str, message: str) -> VatNumberCheck:
    return VatNumberCheck(vat_number, ViesOutcome.UNAVAILABLE, message)
