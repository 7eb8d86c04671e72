"""HTTP client for the Factuursturen REST API v1 (HTTP Basic: username + API key; string-typed JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from koppel.connectors.errors import RateLimited, Rejected
from koppel.connectors.http import ApiClient, CallLog, short_body

PRODUCTION_URL = "https://www.factuursturen.nl/api/v1"


def seconds_to_next_hour(now: datetime | None = None) -> float:
    """The hourly budget is assumed to refill at the top of the clock hour (not documented publicly)."""
    now = now or datetime.now()
    return float(max(60, 3600 - (now.minute * 60 + now.second) + 5))


class FactuursturenClient(ApiClient):
    side = "target"
    system = "Factuursturen"

    def __init__(
        self,
        base_url: str,
        username: str,
        api_key: str,
        *,
        log: CallLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, auth=(username, api_key), log=log, transport=transport)
        #: Calls left this hour, as the last response said (``X-RateLimit-Remaining``).
        self.remaining: int | None = None

    def classify(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip().lstrip("-").isdigit():
            self.remaining = int(remaining)
        if response.status_code == 403 and self.remaining == 0:
            raise RateLimited(
                f"Factuursturen's hourly API limit is reached: {short_body(response)}",
                side="target",
                retry_after=seconds_to_next_hour(),
            )
        super().classify(response)

    # Lookups ------------------------------------------------------------------------------------------
    def get(self, path: str) -> Any:
        response = self.request("GET", path)
        try:
            return response.json()
        except ValueError:
            raise Rejected(
                f"Factuursturen answered {path} with something that is not JSON", side="target"
            ) from None

    def search(self, area: str, field: str, query: str) -> list[dict[str, Any]]:
        data = self.get(f"search/{area}/{field}/{quote(query, safe='')}")
        if isinstance(data, dict):  # some versions wrap results, or return one object
            data = list(data.values()) if all(isinstance(v, dict) for v in data.values()) else [data]
        return [item for item in data or [] if isinstance(item, dict)]

    # Writes -------------------------------------------------------------------------------------------
    def create(self, path: str, body: dict[str, Any]) -> str:
        """POST a new object; Factuursturen answers 201 with the new id as plain text."""
        response = self.request("POST", path, json=body)
        new_id = response.text.strip().strip('"')
        if response.status_code != 201 or not new_id:
            raise Rejected(
                f"Factuursturen answered {response.status_code} without a new id: {short_body(response)}",
                side="target",
            )
        return new_id
