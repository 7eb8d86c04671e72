"""The outcome printer: one line per order's outcome, tagged with its connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .orders import Scenario


def _rate_text(rate: str) -> str:
    return f"{Decimal(rate).normalize():f}%"


@dataclass
class OutcomeWatcher:
    """Prints a line whenever a record of the watched connections reaches a new state, and for every
    webhook delivery taken for a duplicate (polls the database); each line starts with its connection's
    tag, which says the shop and the target."""

    tags: dict[int, str]
    """The tag printed for each watched connection, by connection id."""
    scenarios: dict[tuple[int, str], Scenario] = field(default_factory=dict)
    """What each order placed by the demo is meant to show, by (connection id, source order id)."""
    charged: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    """What the shop charged for an order placed by the demo, where the shop says it."""
    seen: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    since: datetime | None = None
    last_delivery: int = 0
    """The id of the last webhook delivery looked at."""
    duplicates: list[Any] = field(default_factory=list)
    """Duplicate deliveries whose order is still queued: told about once it is settled."""

    def poll(self) -> None:
        """Print what changed since the last poll."""
        from django.utils import timezone

        from koppel.sync.models import Record, State

        started = timezone.now()
        records = Record.objects.filter(connection_id__in=list(self.tags)).order_by("updated_at", "pk")
        if self.since is not None:
            records = records.filter(updated_at__gte=self.since - timedelta(seconds=5))
        for r in records:
            key = (r.state, r.error_code, r.attempts, r.target_invoice_id)
            if (r.state == State.QUEUED and not r.attempts) or self.seen.get(r.pk) == key:
                continue
            self.seen[r.pk] = key
            print(self.describe(r), flush=True)
        self.since = started
        self.poll_duplicates()

    def poll_duplicates(self) -> None:
        from koppel.intake.models import WebhookDelivery
        from koppel.sync.models import Record, State

        new = WebhookDelivery.objects.filter(
            connection_id__in=list(self.tags), outcome="duplicate", pk__gt=self.last_delivery
        ).order_by("pk")
        for delivery in new:
            self.duplicates.append(delivery)
            self.last_delivery = delivery.pk
        for delivery in list(self.duplicates):
            record = Record.objects.filter(
                connection_id=delivery.connection_id, kind="order", source_order_id=delivery.order_id
            ).first()
            if record is None or record.state == State.QUEUED:
                continue
            self.duplicates.remove(delivery)
            print(self.describe_duplicate(delivery, record), flush=True)

    def tag(self, connection_id: int) -> str:
        """The connection's tag, padded to the widest one so the columns line up."""
        width = max(len(tag) for tag in self.tags.values()) + 2
        return f"{'[' + self.tags[connection_id] + ']':<{width}}"

    @staticmethod
    def number(r: Any) -> str:
        return f"#{(r.order_number or r.source_order_id).removeprefix('#'):<8}"

    def describe(self, r: Any) -> str:
        who = f"{r.customer_name}, EUR {r.total}" if r.total is not None else ""
        if r.state == "handled":
            what = f"invoice {r.target_invoice_number or 'id ' + r.target_invoice_id} ({who})"
        elif r.state == "queued":
            what = f"retry {r.attempts}: {r.error_code} {r.message}"
        else:
            what = f"{r.error_code}: {r.message}"
        line = f"  {self.tag(r.connection_id)} {self.number(r)} {r.state:<8} {what}"
        scenario = self.scenarios.get((r.connection_id, r.source_order_id))
        if scenario is not None:
            as_meant = r.state in scenario.expect or (r.error_code and r.error_code == scenario.expect)
            line += f"   [{scenario.label}{'' if as_meant else '; expected ' + scenario.expect}]"
        if r.kind == "marketplace_invoice":
            return (
                f"  {self.tag(r.connection_id)} bol.com invoice {r.source_order_id} {r.state:<8} {r.message}"
            )
        details = self.invoice_details(r) if r.state == "handled" else ""
        return f"{line}\n{' ' * (len(self.tag(r.connection_id)) + 13)}{details}" if details else line

    def invoice_details(self, r: Any) -> str:
        """For a booked order whose invoice has discount or rounding lines, or whose shop total is known
        to differ: those lines, and the invoice total against what the shop charged."""
        charged = self.charged.get((r.connection_id, r.source_order_id))
        document = r.document or {}
        lines = document.get("lines") or []
        special = [line for line in lines if line.get("kind") not in ("product", "shipping", "fee")]
        gross = Decimal(document.get("totals", {}).get("gross", "0"))
        if not special and (charged is None or charged == gross):
            return ""
        amounts: dict[str, list[str]] = {}
        for line in special:
            if Decimal(line["gross"]):
                amounts.setdefault(line["description"], []).append(
                    f"{line['gross']} at {_rate_text(line['vat_rate'])}"
                )
        parts = [f"{description}: {', '.join(each)}" for description, each in amounts.items()]
        if charged is None:
            parts.append(f"invoice total EUR {gross}")
        elif charged == gross:
            parts.append(f"invoice total EUR {gross} = what the shop charged")
        else:
            parts.append(f"invoice total EUR {gross}, but the shop charged EUR {charged}")
        return "; ".join(parts)

    def describe_duplicate(self, delivery: Any, record: Any) -> str:
        from koppel.intake.models import WebhookDelivery

        received = WebhookDelivery.objects.filter(
            connection_id=delivery.connection_id, order_id=delivery.order_id
        ).count()
        if record.state == "handled":
            booked = f"booked once: invoice {record.target_invoice_number or record.target_invoice_id}"
        else:
            booked = f"the order is {record.state}"
        return (
            f"  {self.tag(delivery.connection_id)} {self.number(record)} duplicate {delivery.event} "
            f"delivered again with the same delivery id: stored as a duplicate, nothing done "
            f"({received} webhooks received for this order; {booked})"
        )
