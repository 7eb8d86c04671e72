"""Records and their attempts in the admin: read-only views for support, plus the Process action."""

from __future__ import annotations

from django.contrib import admin, messages

from .models import Attempt, Record, Schedule, State, WorkerHeartbeat
from .services import AlreadyHandled, reprocess


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("started_at", "finished_at", "trigger", "worker", "outcome", "error_code", "message", "calls")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "connection",
        "order_number",
        "state",
        "error_code",
        "customer_name",
        "total",
        "created_at",
    )
    list_filter = ("state", "error_code", "connection")
    search_fields = (
        "order_number",
        "source_order_id",
        "customer_name",
        "customer_email",
        "target_invoice_number",
    )
    list_select_related = ("connection",)
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["process"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Record._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Process the selected records now")
    def process(self, request, queryset) -> None:
        queued = refused = 0
        for record in queryset.exclude(state=State.HANDLED):
            try:
                reprocess(record)
                queued += 1
            except AlreadyHandled:
                refused += 1
        refused += queryset.filter(state=State.HANDLED).count()
        self.message_user(request, f"{queued} record(s) queued.", messages.SUCCESS)
        if refused:
            self.message_user(
                request, f"{refused} handled record(s) left alone: booked already.", messages.WARNING
            )


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("worker_id", "hostname", "pid", "started_at", "last_seen")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ("name", "next_run_at", "last_run_at")
