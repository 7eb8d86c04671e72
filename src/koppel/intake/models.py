"""Webhook deliveries with a valid signature, stored before they are judged."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from koppel.connections.models import Connection

#: The outcome of a delivery that arrived while its connection was off (noted when it is switched on).
HELD = "held (connection off)"


class WebhookDelivery(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="webhook_deliveries")
    received_at = models.DateTimeField(default=timezone.now)
    body = models.TextField(help_text="The body as text (NUL bytes and invalid UTF-8 shown as U+FFFD).")
    raw_body = models.BinaryField(
        null=True,
        blank=True,
        editable=False,
        help_text="The exact bytes, kept when the text above is not them (NUL bytes, invalid UTF-8).",
    )
    event = models.CharField(max_length=60, blank=True, default="")
    order_id = models.CharField(max_length=100, blank=True, default="")
    delivery_id = models.CharField(max_length=200, blank=True, default="")
    outcome = models.CharField(max_length=40, blank=True, default="")
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["connection", "-received_at"], name="delivery_conn_idx"),
            models.Index(fields=["connection", "delivery_id"], name="delivery_id_idx"),
        ]
        constraints = [
            # One delivery id is acted on once per connection; repeats are stored as "duplicate".
            models.UniqueConstraint(
                fields=["connection", "delivery_id"],
                condition=~models.Q(delivery_id="") & ~models.Q(outcome__in=("duplicate", "invalid")),
                name="one_delivery_acted_on",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event or 'webhook'} {self.order_id} ({self.outcome})"
