"""Records: one per order (refund, marketplace invoice: see :class:`Kind`) that reached a connection, with
its state, the reason it was not booked, the target's ids once it was, and every attempt made."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from koppel.connections.models import Connection

from . import statements


class State(models.TextChoices):
    OPEN = "open", _("Open")  # not yet eligible (status); looked at again on change and every night
    QUEUED = "queued", _("Queued")  # waiting for a worker (or for its next retry)
    HANDLED = "handled", _("Handled")  # booked; target ids kept
    ERROR = "error", _("Error")  # not booked; code + message say why
    SKIPPED = "skipped", _("Skipped")  # deliberately not booked: before the start date, or booked before


class Kind(models.TextChoices):
    """What a record binds: every external document Koppel books is a record of one kind, unique per
    connection, kind and external id, sharing states, leases, retries and the dashboard."""

    ORDER = "order", _("Order")  # a sale (or, for bol.com's shipment source, a shipment)
    REFUND = "refund", _("Refund")  # a refund or return: a credit note
    MARKETPLACE_INVOICE = "marketplace_invoice", _("Marketplace invoice")  # bol.com's invoice to the merchant


class InvoiceRequest(models.TextChoices):
    """A customer's request at the marketplace (bol.com) for the invoice of this record."""

    NONE = "", _("None")
    REQUESTED = "requested", _("Requested")  # waiting for the booking, or for the next run
    UPLOADING = "uploading", _("Uploading")  # sent; the marketplace's answer is awaited
    UPLOADED = "uploaded", _("Uploaded")
    INCORRECT = "incorrect", _("Incorrect")  # refused (or failed) by the marketplace


class RecordManager(models.Manager["Record"]):
    def update_leased(self, pk: int, owner: str, **values: Any) -> int:
        """``filter(pk=pk, lease_owner=owner).update(**values)``, for the worker's hot path: a statement made
        once per set of columns (:mod:`koppel.sync.statements`). Rows updated: 0 when the lease is no longer
        ``owner``'s."""
        if any(hasattr(value, "resolve_expression") for value in values.values()):
            return self.filter(pk=pk, lease_owner=owner).update(**values)
        return statements.update(self.model, values, {"id": pk, "lease_owner": owner})

    def payloads_of(
        self, connection_id: int, kind: str, state: str, codes: tuple[str, ...]
    ) -> list[tuple[int, Any]]:
        """``(pk, payload)`` of a connection's records of ``kind`` in ``state`` with one of ``codes``, in no
        order: asked after every booking (are refunds waiting for this order?), where building the ORM
        query cost more than the booking's own SQL."""
        where = {"connection": connection_id, "kind": kind, "state": state, "error_code": list(codes)}
        return statements.select(self.model, ("id", "payload"), where)  # type: ignore[return-value]


class Record(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="records")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ORDER)
    #: The external id of what the record binds (an order id, a refund id, a marketplace invoice id).
    source_order_id = models.CharField(max_length=100)
    order_number = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    #: A code of :class:`koppel.documents.codes.Code` (no choices here: a new code needs no migration).
    error_code = models.CharField(max_length=40, blank=True, default="")
    message = models.TextField(blank=True, default="")
    #: How the message was made (template and values), to show it in the merchant's language.
    message_text = models.JSONField(null=True, blank=True, editable=False)

    payload = models.JSONField(null=True, blank=True, help_text="The order exactly as the source sent it.")
    payload_fetched_at = models.DateTimeField(null=True, blank=True)
    document = models.JSONField(null=True, blank=True, help_text="The canonical invoice as booked.")
    order_created_at = models.DateTimeField(null=True, blank=True)
    order_status = models.CharField(max_length=40, blank=True, default="")
    total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    customer_name = models.CharField(max_length=200, blank=True, default="")
    customer_email = models.CharField(max_length=254, blank=True, default="")

    target_debtor_id = models.CharField(max_length=100, blank=True, default="")
    target_invoice_id = models.CharField(max_length=100, blank=True, default="")
    target_invoice_number = models.CharField(max_length=100, blank=True, default="")
    invoice_request = models.CharField(
        max_length=10,
        blank=True,
        default="",
        choices=InvoiceRequest.choices,
        help_text="A customer asked the marketplace for this invoice: where its upload stands.",
    )
    invoice_upload = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The request answered last and how its upload went (koppel.sync.invoice_requests).",
    )

    attempts = models.PositiveIntegerField(
        default=0, help_text="Failed tries counted toward the retry limit."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    booking_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Set (and committed) just before the invoice is sent to the target."
    )
    in_doubt_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the last create was sent without a known outcome (no answer, a cut connection, a "
        "5xx): until the target shows the invoice or the doubt window ends, nothing is created again.",
    )
    paused_side = models.CharField(
        max_length=6,
        blank=True,
        default="",
        help_text="Waits for the connection's rate-limit pause on this side to end (no task meanwhile).",
    )
    received_via = models.CharField(max_length=20, blank=True, default="")
    backfill = models.ForeignKey(
        "Backfill", null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    objects = RecordManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "source_order_id"], name="one_record_per_external_document"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "state", "-created_at"], name="record_state_idx"),
            models.Index(fields=["state", "updated_at"], name="record_sweep_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.order_number or self.source_order_id} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("dashboard:record", args=[self.pk])


class Backfill(models.Model):
    """A migration of past orders: the source's orders placed in ``[since, until)`` get records (and are
    booked) even though they predate the connection's start date. Read page by page; the cursor and the
    counters are committed with each page's records, so a stopped backfill resumes where it was."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")  # stopped (Ctrl-C, a dead worker, a source outage): resumable
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")  # the source refused (credentials): fix, then resume

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="backfills")
    since = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True, help_text="Exclusive; empty: up to now.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    cursor = models.TextField(
        blank=True, default="", help_text="Where the next page starts (source-specific)."
    )
    pages_read = models.PositiveIntegerField(default=0)
    orders_seen = models.PositiveIntegerField(default=0)
    orders_new = models.PositiveIntegerField(
        default=0, help_text="Orders that got a record (and are booked)."
    )
    orders_known = models.PositiveIntegerField(
        default=0, help_text="Orders that already had a record: left as they are."
    )
    orders_total = models.PositiveIntegerField(null=True, blank=True, help_text="As the source reported.")
    message = models.TextField(blank=True, default="")
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"backfill {self.pk} of connection {self.connection_id} ({self.status})"


class Attempt(models.Model):
    """One try at a record: what happened and which calls it made (method, path, status; never secrets)."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20, blank=True, default="")
    worker = models.CharField(max_length=64, blank=True, default="")
    outcome = models.CharField(max_length=20, blank=True, default="")
    error_code = models.CharField(max_length=40, blank=True, default="")
    message = models.TextField(blank=True, default="")
    message_text = models.JSONField(null=True, blank=True, editable=False)
    calls = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"attempt on record {self.record_id}: {self.outcome}"


class DebtorClaim(models.Model):
    """Guards the creation of a debtor per e-mail so two workers never create the same customer twice."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="debtor_claims")
    email = models.CharField(max_length=254)
    debtor_id = models.CharField(max_length=100, blank=True, default="")
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "email"], name="one_debtor_per_email")]

    def __str__(self) -> str:
        return f"{self.email} → {self.debtor_id or '(being created)'}"


class WorkerHeartbeat(models.Model):
    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=200, blank=True, default="")
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.worker_id} (pid {self.pid} on {self.hostname})"


class Schedule(models.Model):
    """A periodic job's next run, claimed with a conditional update so one worker runs it."""

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.next_run_at:%Y-%m-%d %H:%M}"
