"""The bol sandbox as the sandbox server mounts it: :meth:`BolSandbox.api_router` at ``/bol`` and
:meth:`BolSandbox.control_router` at ``/_sandbox/bol``."""

from __future__ import annotations

from typing import Any

from koppel.sandbox.http import Request, Response, Router

from . import problems
from .control import Control
from .core import Core
from .demo import demo_shop
from .gate import PUBLIC, Gate
from .invoice_state import demo_invoice
from .invoices import Invoices
from .orders import Orders
from .retailer_invoices import INVOICE_TYPES, SPECIFICATION_TYPES, RetailerInvoices
from .returns import Returns
from .state import Shop
from .subscriptions import Subscriptions
from .token import token


class BolSandbox:
    """Retailer accounts (``shops``), the Retailer and Shared API (live and demo), and the control API."""

    def __init__(self, public_url: str | None = None, *, seed: int | None = None) -> None:
        self.core = Core(public_url, seed)
        self.demo = demo_shop()
        demo_invoice(self.demo)
        self._gate = Gate(self.core, self.demo)
        self._orders = Orders(self.core)
        self._subscriptions = Subscriptions(self.core)
        self._invoices = Invoices(self.core)
        self._retailer_invoices = RetailerInvoices()
        self._returns = Returns(self.core)
        self._control = Control(self.core)

    @property
    def shops(self) -> dict[str, Shop]:
        return self.core.shops

    def add_shop(self, name: str, **options: Any) -> Shop:
        return self.core.add_shop(name, **options)

    async def aclose(self) -> None:
        await self.core.aclose()

    def page_links(self) -> list[tuple[str, str]]:
        return self._control.pages.links()

    def control_router(self) -> Router:
        return self._control.router()

    def api_router(self) -> Router:
        router = Router()
        router.post("/token", self._token)
        for env in ("", "-demo"):
            self._retailer(router, f"/retailer{env}", bool(env))
            self._shared(router, f"/shared{env}", bool(env))
        router.route("/{path:path}", None, self._unknown)
        return router

    async def _token(self, request: Request) -> Response:
        return await token(self.core, request)

    def _retailer(self, router: Router, base: str, demo: bool) -> None:
        orders, subs, invoices, wrap = self._orders, self._subscriptions, self._invoices, self._gate.wrap
        router.get(f"{base}/orders", wrap(orders.list_orders, demo))
        router.put(f"{base}/orders/cancellation", wrap(orders.cancel, demo))
        router.get(f"{base}/orders/{{order_id}}", wrap(orders.get_order, demo))
        router.get(f"{base}/shipments", wrap(orders.list_shipments, demo))
        router.post(f"{base}/shipments", wrap(orders.create_shipment, demo))
        router.get(f"{base}/shipments/invoices/requests", wrap(invoices.requests, demo))
        router.post(f"{base}/shipments/invoices/{{shipment_id}}", wrap(invoices.upload, demo))
        router.get(f"{base}/shipments/{{shipment_id}}", wrap(orders.get_shipment, demo))
        returns = self._returns
        router.get(f"{base}/returns", wrap(returns.list_returns, demo))
        router.post(f"{base}/returns", wrap(returns.create, demo))
        router.get(f"{base}/returns/{{return_id}}", wrap(returns.get_return, demo))
        router.put(f"{base}/returns/{{rma_id}}", wrap(returns.handle, demo))
        bills = self._retailer_invoices
        router.get(f"{base}/invoices", wrap(bills.list, demo))
        router.get(f"{base}/invoices/{{invoice_id}}", wrap(bills.get, demo, INVOICE_TYPES))
        spec = wrap(bills.specification, demo, SPECIFICATION_TYPES)
        router.get(f"{base}/invoices/{{invoice_id}}/specification", spec)
        router.get(f"{base}/subscriptions", wrap(subs.list, demo))
        router.post(f"{base}/subscriptions", wrap(subs.create, demo))
        router.get(f"{base}/subscriptions/signature-keys", wrap(subs.signature_keys, demo))
        router.post(f"{base}/subscriptions/test/{{subscription_id}}", wrap(subs.test, demo))
        router.get(f"{base}/subscriptions/{{subscription_id}}", wrap(subs.get, demo))
        router.put(f"{base}/subscriptions/{{subscription_id}}", wrap(subs.update, demo))
        router.delete(f"{base}/subscriptions/{{subscription_id}}", wrap(subs.delete, demo))

    def _shared(self, router: Router, base: str, demo: bool) -> None:
        subs, wrap = self._subscriptions, self._gate.wrap
        router.get(f"{base}/process-status", wrap(subs.process_statuses, demo))
        router.post(f"{base}/process-status", wrap(subs.bulk_process_status, demo))
        router.get(f"{base}/process-status/{{process_status_id}}", wrap(subs.process_status, demo))

    async def _unknown(self, request: Request, path: str) -> Response:
        return problems.problem(404, "The requested resource could not be found.", f"{PUBLIC}/{path}")
