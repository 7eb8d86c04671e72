"""HTTP client for the Moneybird API v2: ``{base}/{administration_id}/{resource}.json`` with
``Authorization: Bearer <token>``; bodies wrapped in the resource's name (``{"contact": {...}}``) as the
documentation shows; errors as ``{"error": "..."}`` or ``{"error": {"field": ["message"]}}``.

Moneybird allows 150 requests per 5 minutes for the whole platform and answers 429 when they are spent;
the wait is read from ``Retry-After`` or ``RateLimit-Reset`` (seconds), one minute when it says nothing.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

from koppel.connectors.errors import RateLimited, Rejected, Unavailable
from koppel.connectors.http import ApiClient, CallLog, default_timeout, retry_after_seconds, short_body

PRODUCTION_URL = "https://moneybird.com/api/v2"
PER_PAGE = 100
#: Pages read at most when a list is searched client-side (100 a page).
MAX_PAGES = 10


def _format_error(error: Any) -> str:
    """``{"email": ["is invalid"]}`` → ``email is invalid``; a string stays as it is."""
    if isinstance(error, dict):
        parts = []
        for field, messages in error.items():
            texts = messages if isinstance(messages, list) else [messages]
            parts.append(f"{field} {', '.join(str(t) for t in texts)}".strip())
        return "; ".join(parts)
    return str(error)


def ratelimit_reset(response: httpx.Response) -> float | None:
    """``RateLimit-Reset``: seconds until the window ends (or an epoch timestamp)."""
    value = response.headers.get("ratelimit-reset")
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    if number is None:
        return None
    return max(0.0, number - time.time()) if number > 10**9 else number


class MoneybirdClient(ApiClient):
    side = "target"
    system = "Moneybird"
    #: A 429 without a wait: a minute, a fifth of Moneybird's 5-minute window.
    default_retry_after = 60.0

    def __init__(
        self,
        base_url: str,
        token: str,
        administration_id: str,
        *,
        log: CallLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            headers={"Authorization": f"Bearer {token}"},
            log=log,
            transport=transport,
        )
        self.administration_id = administration_id.strip()

    def path(self, resource: str) -> str:
        """``contacts.json`` → ``{administration_id}/contacts.json``."""
        return f"{quote(self.administration_id, safe='')}/{resource}"

    def error_text(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return short_body(response)
        if isinstance(data, dict) and data.get("error"):
            return _format_error(data["error"])[:500]
        return short_body(response)

    def classify(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            wait = next(
                (w for w in (retry_after_seconds(response), ratelimit_reset(response)) if w is not None),
                self.default_retry_after,
            )
            message = (
                f"Moneybird's API limit (150 requests per 5 minutes) is reached: {self.error_text(response)}"
            )
            raise RateLimited(message, side="target", retry_after=wait)
        super().classify(response)

    # Calls ---------------------------------------------------------------------------------------------
    def get(self, resource: str, params: dict[str, str] | None = None) -> Any:
        return self._json(self.request("GET", self.path(resource), params=params), resource)

    def get_root(self, resource: str) -> Any:
        """A resource outside the administration (``administrations.json``)."""
        return self._json(self.request("GET", resource), resource)

    def get_all(self, resource: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every page of a list (at most :data:`MAX_PAGES`), for lookups that are checked here."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            data = self.get(resource, {**params, "page": str(page), "per_page": str(PER_PAGE)})
            items = [item for item in data or [] if isinstance(item, dict)] if isinstance(data, list) else []
            found += items
            if len(items) < PER_PAGE:
                break
        return found

    def post(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._object(self.request("POST", self.path(resource), json=body), resource)

    def patch(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._object(self.request("PATCH", self.path(resource), json=body), resource)

    def post_file(self, resource: str, filename: str, content_type: str, data: bytes) -> None:
        """A multipart upload with the file in part ``file``."""
        self.request("POST", self.path(resource), files={"file": (filename, data, content_type)})

    def download(self, resource: str) -> bytes:
        """A file Moneybird answers with a redirect (``download_pdf``): the redirect's target is fetched
        without the token, which must never reach the host the file is stored on."""
        response = self.request("GET", self.path(resource))
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            return response.content
        url = str(response.url.join(location))
        started = time.perf_counter()
        try:
            with httpx.Client(timeout=default_timeout(), follow_redirects=True) as plain:
                answer = plain.get(url)
        except httpx.HTTPError as exc:
            self.log.add("GET", "<file>", None, started, type(exc).__name__)
            raise Unavailable("Moneybird's file could not be fetched", side="target") from exc
        self.log.add("GET", "<file>", answer.status_code, started)
        if answer.status_code >= 400:
            raise Unavailable(f"Moneybird's file answered {answer.status_code}", side="target")
        return answer.content

    @staticmethod
    def _json(response: httpx.Response, resource: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise Rejected(
                f"Moneybird answered {resource} with something that is not JSON", side="target"
            ) from None

    def _object(self, response: httpx.Response, resource: str) -> dict[str, Any]:
        data = self._json(response, resource)
        if not isinstance(data, dict):
            raise Rejected(f"Moneybird answered {resource} without an object", side="target")
        return data
