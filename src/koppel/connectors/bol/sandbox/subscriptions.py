"""Push notification subscriptions (``/retailer/subscriptions``), the signature keys, and the process
statuses of the shared API (``/shared/process-status``)."""

from __future__ import annotations

from typing import Any

from koppel.sandbox.http import Response

from . import problems, render
from .core import Core
from .gate import Call
from .orders import accepted
from .state import PAGE_SIZE, Subscription

RESOURCES = (
    "PROCESS_STATUS",
    "SHIPMENT",
    "PRICE_STAR_BOUNDARY",
    "COMPETING_OFFER",
    "OFFER_FOR_SALE",
    "OFFER_NOT_FOR_SALE",
    "ORDER",
)
TYPES = ("WEBHOOK", "GCP_PUBSUB", "AWS_SQS")


class Subscriptions:
    def __init__(self, core: Core) -> None:
        self.core = core

    def _found(self, call: Call, subscription_id: str) -> Subscription:
        found = call.data.subscriptions.get(subscription_id)
        if found is None:
            raise problems.not_found(call.instance, f"Subscription with id {subscription_id} not found.")
        return found

    def _request(self, call: Call) -> dict[str, Any]:
        data = call.json_body()
        if not isinstance(data, dict):
            raise problems.invalid(call.instance, "body", "must be an object")
        resources = data.get("resources")
        if not isinstance(resources, list) or not resources:
            raise problems.invalid(call.instance, "resources", "must not be empty")
        for resource in resources:
            if resource not in RESOURCES:
                raise problems.invalid(
                    call.instance, "resources", problems.choice_reason(str(resource), RESOURCES)
                )
        kind = data.get("subscriptionType")
        if kind not in TYPES:
            raise problems.invalid(
                call.instance, "subscriptionType", problems.choice_reason(str(kind), TYPES)
            )
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise problems.invalid(call.instance, "url", "must not be empty")
        if kind == "WEBHOOK" and not url.startswith(("https://", "http://")):
            raise problems.invalid(call.instance, "url", "must be a valid URL")
        if kind == "WEBHOOK" and call.shop.knobs.https_only and not url.startswith("https://"):
            raise problems.invalid(call.instance, "url", "Only https webhook URLs are allowed.")
        if kind == "AWS_SQS" and not data.get("identity"):
            raise problems.invalid(call.instance, "identity", "must not be empty for AWS_SQS")
        enabled = data.get("enabled", True)
        return {
            "resources": list(dict.fromkeys(resources)),
            "url": url,
            "kind": kind,
            "enabled": bool(enabled),
            "identity": data.get("identity"),
        }

    async def list(self, call: Call) -> Response:
        return problems.body(
            {"subscriptions": [render.subscription(s) for s in call.data.subscriptions.values()]}
        )

    async def get(self, call: Call, subscription_id: str) -> Response:
        return problems.body(render.subscription(self._found(call, subscription_id)))

    async def create(self, call: Call) -> Response:
        fields = self._request(call)
        if call.demo:
            return accepted(self.core, call, "1234", "CREATE_SUBSCRIPTION", "")
        sub_id = self.core.ids.subscription()
        call.shop.subscriptions[sub_id] = Subscription(
            sub_id, fields["resources"], fields["url"], fields["kind"], fields["enabled"], fields["identity"]
        )
        return accepted(self.core, call, sub_id, "CREATE_SUBSCRIPTION", f"Create subscription {sub_id}.")

    async def update(self, call: Call, subscription_id: str) -> Response:
        sub = self._found(call, subscription_id)
        fields = self._request(call)
        if not call.demo:
            sub.resources, sub.url, sub.subscription_type = fields["resources"], fields["url"], fields["kind"]
            sub.enabled, sub.identity = fields["enabled"], fields["identity"]
        return accepted(
            self.core, call, subscription_id, "UPDATE_SUBSCRIPTION", f"Update subscription {subscription_id}."
        )

    async def delete(self, call: Call, subscription_id: str) -> Response:
        self._found(call, subscription_id)
        if not call.demo:
            del call.shop.subscriptions[subscription_id]
        return accepted(
            self.core, call, subscription_id, "DELETE_SUBSCRIPTION", f"Delete subscription {subscription_id}."
        )

    async def test(self, call: Call, subscription_id: str) -> Response:
        self._found(call, subscription_id)
        if not call.demo:
            self.core.push(call.shop, "TEST", "TEST", subscription_id, only=subscription_id)
        description = f"Send test message to subscription {subscription_id}."
        return accepted(self.core, call, subscription_id, "SEND_SUBSCRIPTION_TST_MSG", description)

    async def signature_keys(self, call: Call) -> Response:
        return problems.body(self.core.keys.key_set())

    # ------------------------------------------------------------------ process status (shared API)

    async def process_status(self, call: Call, process_status_id: str) -> Response:
        process = call.data.processes.get(process_status_id)
        if process is None:
            raise problems.not_found(call.instance, f"Process status with id {process_status_id} not found.")
        return problems.body(render.process_status(process, call.shared))

    async def process_statuses(self, call: Call) -> Response:
        page = call.page()
        entity = call.request.query.get("entity-id")
        event = call.request.query.get("event-type")
        if not entity:
            raise problems.invalid(call.instance, "entity-id", "must not be empty")
        if not event:
            raise problems.invalid(call.instance, "event-type", "must not be empty")
        found = [p for p in call.data.processes.values() if p.entity_id == entity and p.event_type == event]
        found.sort(key=lambda p: (p.created, p.process_id), reverse=True)
        chunk = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return problems.body({"processStatuses": [render.process_status(p, call.shared) for p in chunk]})

    async def bulk_process_status(self, call: Call) -> Response:
        data = call.json_body()
        queries = data.get("processStatusQueries") if isinstance(data, dict) else None
        if not isinstance(queries, list) or not 1 <= len(queries) <= 1000:
            raise problems.invalid(call.instance, "processStatusQueries", "size must be between 1 and 1000")
        ids = [str(q.get("processStatusId")) for q in queries if isinstance(q, dict)]
        found = [call.data.processes[i] for i in ids if i in call.data.processes]
        return problems.body({"processStatuses": [render.process_status(p, call.shared) for p in found]})
