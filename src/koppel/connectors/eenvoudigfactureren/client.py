"""HTTP client for the EenvoudigFactureren API v1 (research A2): ``X-API-Key`` header, JSON asked for
explicitly (the API answers XML otherwise), errors as a JSON object with an ``error`` property."""

from __future__ import annotations

from typing import Any

import httpx

from koppel.connectors.errors import Rejected
from koppel.connectors.http import ApiClient, CallLog

PRODUCTION_URL = "https://eenvoudigfactureren.be/api/v1"


class EenvoudigFacturerenClient(ApiClient):
    side = "target"
    system = "EenvoudigFactureren"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        log: CallLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # Both headers: the API answers in JSON when asked by Accept, and reads a body as JSON by its type.
        super().__init__(
            base_url,
            headers={"X-API-Key": api_key, "Accept": "application/json", "Content-Type": "application/json"},
            log=log,
            transport=transport,
        )

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._json(self.request("GET", path, params=params), path)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = self._json(self.request("POST", path, json=body), path)
        if not isinstance(data, dict):
            raise Rejected(f"EenvoudigFactureren answered {path} without an object", side="target")
        if data.get("error"):  # the vendor's own plugin checks this even on a 2xx answer
            raise Rejected(f"EenvoudigFactureren refused {path}: {data['error']}", side="target")
        return data

    def get_list(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        data = self.get(path, params)
        if isinstance(data, dict):  # one object, or a wrapper around the list
            inner = next((v for v in data.values() if isinstance(v, list)), None)
            data = inner if inner is not None else [data]
        return [item for item in data or [] if isinstance(item, dict)]

    @staticmethod
    def _json(response: httpx.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise Rejected(
                f"EenvoudigFactureren answered {path} with {kind} instead of JSON", side="target"
            ) from None
