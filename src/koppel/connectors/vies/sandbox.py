"""A simulated VIES REST API, mounted at ``/vies``: ``POST /vies/rest-api/check-vat-number`` (set
``KOPPEL_VIES_URL`` to ``{sandbox url}/vies/rest-api``), ``GET /vies/rest-api/check-status``, and
``POST /vies/rest-api/check-vat-test-service`` with VIES's fixed test numbers.

The answers follow the REST API's contract (``swagger_publicVAT.yaml`` of the Commission's VIES technical
information, as clients of it read it):

- a checked number: HTTP 200 ``{"countryCode", "vatNumber", "requestDate", "valid", "requestIdentifier",
  "name", "address", "userError": "VALID" | "INVALID"}``; ``name`` and ``address`` are ``"---"`` when the
  member state does not give them, ``requestIdentifier`` (the consultation number) is only given when the
  request names the requester (``requesterMemberStateCode`` and ``requesterNumber``);
- a member state whose register does not answer: HTTP 200 with ``valid`` false and ``userError``
  ``MS_UNAVAILABLE``;
- VIES itself failing (the ``fail_next`` / ``error_rate`` knobs): that status with ``{"actionSucceed":
  false, "errorWrappers": [{"error": "SERVICE_UNAVAILABLE", "message": ...}]}``; a request without a
  country code or number: 400 with ``INVALID_INPUT``.

Only registered numbers are valid (as in VIES): the control API (``/_sandbox/vies``) registers them
(``POST /numbers`` ``{"vat_number": "BE0403019261", "name": ..., "address": ...}``), takes member states
offline (``POST /member-states/BE`` ``{"available": false}``), sets the knobs and lists the requests.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from koppel.sandbox.faults import FaultKnobs
from koppel.sandbox.http import Request, Response, Router

#: VIES's country codes: the member states (Greece as EL) and Northern Ireland (XI).
MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI".split()  # noqa: SIM905
)
NUMBER = re.compile(r"^[0-9A-Za-z+*.]{2,14}$")
#: The test service's numbers and what they answer (VIES technical information: "100" valid, "200"
#: invalid, the others an error).
TEST_NUMBERS = {
    "100": "VALID",
    "200": "INVALID",
    "201": "INVALID_INPUT",
    "202": "INVALID_REQUESTER_INFO",
    "300": "SERVICE_UNAVAILABLE",
    "301": "MS_UNAVAILABLE",
    "302": "TIMEOUT",
    "400": "VAT_BLOCKED",
    "401": "IP_BLOCKED",
    "500": "GLOBAL_MAX_CONCURRENT_REQ",
    "600": "MS_MAX_CONCURRENT_REQ",
}


ERROR_MESSAGES = {
    "SERVICE_UNAVAILABLE": (
        "An error was encountered either at the network level or the Web application level"
    ),
    "INVALID_INPUT": "The provided CountryCode is invalid or the VAT number is empty",
}


@dataclass(slots=True)
class ViesKnobs(FaultKnobs):
    pass


@dataclass(slots=True)
class Registered:
    name: str = "---"
    address: str = "---"


@dataclass(slots=True)
class ViesSandbox:
    public_url: str | None = None
    numbers: dict[str, Registered] = field(default_factory=dict)
    offline: set[str] = field(default_factory=set)
    knobs: ViesKnobs = field(default_factory=ViesKnobs)
    requests: list[dict[str, Any]] = field(default_factory=list)
    _random: random.Random = field(default_factory=lambda: random.Random(7))

    # -- the API ---------------------------------------------------------------------------------------------
    def api_router(self) -> Router:
        router = Router()
        router.post("/rest-api/check-vat-number", self._check)
        router.post("/rest-api/check-vat-test-service", self._test_service)
        router.get("/rest-api/check-status", self._status)
        return router

    async def _check(self, request: Request) -> Response:
        body, failed = await self._gate(request)
        if failed is not None:
            return failed
        country, number = body["countryCode"], body["vatNumber"]
        if country in self.offline:
            return Response.json(self._answer(country, number, False, "MS_UNAVAILABLE", body))
        registered = self.numbers.get(f"{country}{number}")
        return Response.json(
            self._answer(country, number, registered is not None, "", body, registered or Registered())
        )

    async def _test_service(self, request: Request) -> Response:
        body, failed = await self._gate(request)
        if failed is not None:
            return failed
        country, number = body["countryCode"], body["vatNumber"]
        outcome = TEST_NUMBERS.get(number, "INVALID_INPUT")
        if outcome in ("VALID", "INVALID"):
            return Response.json(self._answer(country, number, outcome == "VALID", "", body))
        if outcome in ("MS_UNAVAILABLE", "TIMEOUT", "MS_MAX_CONCURRENT_REQ"):
            return Response.json(self._answer(country, number, False, outcome, body))
        return _error(400 if outcome.startswith("INVALID") else 500, outcome)

    async def _status(self, request: Request) -> Response:
        countries = [
            {"countryCode": code, "availability": "Unavailable" if code in self.offline else "Available"}
            for code in sorted(MEMBER_STATES)
        ]
        return Response.json({"vow": {"available": True}, "countries": countries})

    async def _gate(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        """Latency, the request log, faults and the body's form: ``(body, None)`` or ``({}, the answer)``."""
        await self.knobs.delay()
        try:
            body = request.json()
        except ValueError:
            body = None
        self.requests.append({"path": request.path, "body": body})
        status = self.knobs.fault(self._random, (500, 503))
        if status is not None:
            return {}, _error(status, "SERVICE_UNAVAILABLE")
        if not isinstance(body, dict):
            return {}, _error(400, "INVALID_INPUT")
        country = str(body.get("countryCode") or "").upper()
        number = str(body.get("vatNumber") or "").replace(" ", "")
        if country not in MEMBER_STATES or not NUMBER.match(number):
            return {}, _error(400, "INVALID_INPUT")
        return {**body, "countryCode": country, "vatNumber": number.upper()}, None

    @staticmethod
    def _answer(
        country: str,
        number: str,
        valid: bool,
        user_error: str,
        body: dict[str, Any],
        registered: Registered | None = None,
    ) -> dict[str, Any]:
        requester = body.get("requesterMemberStateCode") and body.get("requesterNumber")
        shown = registered if valid and registered is not None else Registered()
        return {
            "countryCode": country,
            "vatNumber": number,
            "requestDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "valid": valid,
            "requestIdentifier": f"WAPI{uuid.uuid4().hex[:12].upper()}" if requester and valid else "",
            "name": shown.name,
            "address": shown.address,
            "userError": user_error or ("VALID" if valid else "INVALID"),
        }

    # -- the control API -------------------------------------------------------------------------------------
    def control_router(self) -> Router:
        router = Router()
        router.post("/numbers", self._c_register)
        router.get("/numbers", self._c_numbers)
        router.delete("/numbers", self._c_clear)
        router.post("/member-states/{code}", self._c_member_state)
        router.get("/knobs", self._c_get_knobs)
        router.post("/knobs", self._c_set_knobs)
        router.get("/requests", self._c_requests)
        router.delete("/requests", self._c_clear_requests)
        return router

    async def _c_register(self, request: Request) -> Response:
        try:
            data = request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("vat_number"), str):
            return Response.json({"error": "vat_number is required"}, 400)
        compact = re.sub(r"[\s.\-]", "", data["vat_number"]).upper()
        compact = "EL" + compact[2:] if compact.startswith("GR") else compact
        self.numbers[compact] = Registered(str(data.get("name") or "---"), str(data.get("address") or "---"))
        return Response.json({"vat_number": compact, **asdict(self.numbers[compact])}, 201)

    async def _c_numbers(self, request: Request) -> Response:
        return Response.json({number: asdict(item) for number, item in self.numbers.items()})

    async def _c_clear(self, request: Request) -> Response:
        self.numbers.clear()
        self.offline.clear()
        return Response.empty()

    async def _c_member_state(self, request: Request, code: str) -> Response:
        try:
            data = request.json()
        except ValueError:
            data = None
        if code.upper() not in MEMBER_STATES or not isinstance(data, dict):
            return Response.json({"error": 'a member state code and {"available": bool} are expected'}, 400)
        if data.get("available", True):
            self.offline.discard(code.upper())
        else:
            self.offline.add(code.upper())
        return Response.json({"countryCode": code.upper(), "available": code.upper() not in self.offline})

    async def _c_get_knobs(self, request: Request) -> Response:
        return Response.json(asdict(self.knobs))

    async def _c_set_knobs(self, request: Request) -> Response:
        try:
            self.knobs.update(request.json())
        except ValueError as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json(asdict(self.knobs))

    async def _c_requests(self, request: Request) -> Response:
        return Response.json(self.requests)

    async def _c_clear_requests(self, request: Request) -> Response:
        self.requests.clear()
        return Response.empty()


def _error(status: int, code: str) -> Response:
    message = ERROR_MESSAGES.get(code, code)
    body = {"actionSucceed": False, "errorWrappers": [{"error": code, "message": message}]}
    return Response.json(body, status)


SANDBOX = ViesSandbox
