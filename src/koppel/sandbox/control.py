"""The plumbing every sandbox's control API repeats, written once.

A sandbox keeps its tenants (shops, stores, accounts) in a dict and mounts its control API under
``/{tenants}/{name}/...``. :class:`TenantControl`, mixed into a sandbox's control class, looks a tenant up
for a handler, answers its knobs, its delivery log and its request log, and adds their routes. A sandbox
says where its tenants are and how it writes an answer and an error (each writes them as the platform it
simulates does); everything else here behaves the same for all.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import asdict
from typing import Any, ClassVar

from .http import Request, Response, Router

Handler = Callable[..., Coroutine[Any, Any, Response]]

_NO_TOKENS = ("false", "0", "no")


def notify(request: Request, default: str = "true") -> bool:
    """Whether a control call wants its webhooks (``?notify=false`` does not)."""
    return request.query.get("notify", default).lower() not in _NO_TOKENS


def base_url(public_url: str | None, request: Request) -> str:
    """The sandbox's URL as the caller reaches it (the configured public URL, else the ``Host``)."""
    return public_url or f"http://{request.headers.get('host', '127.0.0.1')}"


def json_body(request: Request, invalid: Callable[[str], Exception]) -> Any:
    """The request's JSON body (``{}`` for none); ``invalid(message)`` is raised when it is not JSON."""
    try:
        return request.json() if request.body else {}
    except ValueError:
        raise invalid("Body is not valid JSON") from None


def json_object(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object (``{}`` for none); ``ValueError`` for anything else."""
    data = json_body(request, ValueError)
    if not isinstance(data, dict):
        raise ValueError("Body must be a JSON object")
    return data


class TenantControl:
    """The tenant lookup and the knob, delivery-log and request-log handlers of a control API.

    A sandbox sets :attr:`tenant_kind` (the URL's plural, ``shops``), :attr:`tenant_param` (the path
    parameter, ``shop``) and :attr:`tenants_attribute` (its dict of tenants), and overrides what it writes
    its own way: :meth:`answer`, :meth:`tenant_missing`, :meth:`bad_request`, :meth:`knob_changes`,
    :meth:`update_knobs`, :meth:`deliveries_view` and :meth:`requests_view`."""

    tenant_kind: ClassVar[str] = "shops"
    tenant_param: ClassVar[str] = "shop"
    tenants_attribute: ClassVar[str] = "shops"
    public_url: str | None

    # ------------------------------------------------------------------ what a sandbox writes its own way

    def answer(self, data: Any, status: int = 200) -> Response:
        return Response.json(data, status)

    def tenant_missing(self, name: str) -> Response:
        raise NotImplementedError

    def bad_request(self, message: str) -> Response:
        raise NotImplementedError

    def knob_changes(self, request: Request) -> Any:
        """The knob changes a ``POST knobs`` asks for (its JSON body)."""
        return json_object(request)

    def update_knobs(self, tenant: Any, changes: Any) -> Callable[[], None] | None:
        """Apply knob changes (``ValueError`` names a wrong one); may answer what to run after the answer."""
        tenant.knobs.update(changes)
        return None

    def deliveries_view(self, tenant: Any) -> Any:
        return list(tenant.deliveries)

    def requests_view(self, tenant: Any) -> Any:
        return list(tenant.requests)

    async def run_handler(
        self, handler: Handler, tenant: Any, request: Request, params: dict[str, str]
    ) -> Response:
        """Run a handler for a tenant that was found (a sandbox may turn its errors into answers here)."""
        return await handler(tenant, request, **params)

    # ------------------------------------------------------------------ the plumbing

    def tenants(self) -> Mapping[str, Any]:
        return getattr(self, self.tenants_attribute)

    def _control(self, handler: Handler) -> Callable[..., Any]:
        """Wrap a handler of one tenant: the tenant is looked up by the path parameter, or it is missing."""

        async def endpoint(request: Request, **params: str) -> Response:
            name = params.pop(self.tenant_param)
            tenant = self.tenants().get(name)
            if tenant is None:
                return self.tenant_missing(name)
            return await self.run_handler(handler, tenant, request, params)

        return endpoint

    def _base_url(self, request: Request) -> str:
        return base_url(self.public_url, request)

    def tenant_path(self, *parts: str) -> str:
        """``/{tenant_kind}/{{tenant_param}}/parts...``, a route under one tenant."""
        return "/".join((f"/{self.tenant_kind}", f"{{{self.tenant_param}}}", *parts))

    def add_log_routes(
        self, router: Router, *, deliveries: str | None = None, clear_requests: bool = True
    ) -> None:
        """The routes of the knobs, the request log and (at ``deliveries``, e.g. ``webhooks``) the
        delivery log of one tenant."""
        router.get(self.tenant_path("knobs"), self._control(self._c_get_knobs))
        router.post(self.tenant_path("knobs"), self._control(self._c_set_knobs))
        if deliveries:
            router.get(self.tenant_path(deliveries), self._control(self._c_deliveries))
            router.delete(self.tenant_path(deliveries), self._control(self._c_clear_deliveries))
        router.get(self.tenant_path("requests"), self._control(self._c_requests))
        if clear_requests:
            router.delete(self.tenant_path("requests"), self._control(self._c_clear_requests))

    # ------------------------------------------------------------------ the handlers

    async def _c_get_knobs(self, tenant: Any, request: Request) -> Response:
        return self.answer(asdict(tenant.knobs))

    async def _c_set_knobs(self, tenant: Any, request: Request) -> Response:
        try:
            after = self.update_knobs(tenant, self.knob_changes(request))
        except ValueError as exc:
            return self.bad_request(str(exc))
        response = self.answer(asdict(tenant.knobs))
        if after is not None:
            response.after = after
        return response

    async def _c_deliveries(self, tenant: Any, request: Request) -> Response:
        """The delivery log; ``?wait_for=N&timeout=5`` first waits until N attempts have been logged."""
        try:
            await tenant.deliveries.wait_as_asked(request.query)
        except ValueError:
            return self.bad_request("wait_for and timeout must be numbers")
        return self.answer(self.deliveries_view(tenant))

    async def _c_clear_deliveries(self, tenant: Any, request: Request) -> Response:
        tenant.deliveries.clear()
        return Response.empty()

    async def _c_requests(self, tenant: Any, request: Request) -> Response:
        return self.answer(self.requests_view(tenant))

    async def _c_clear_requests(self, tenant: Any, request: Request) -> Response:
        tenant.requests.clear()
        return Response.empty()
