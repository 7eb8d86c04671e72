"""Queuing background tasks by their paths.

The tasks (``koppel.sync.tasks``) call the pipeline, the backfills, the services, the refunds and the pauses,
and these queue tasks in turn. So that the modules depend one way only, they queue through this module, which
knows a task only by the dotted path it is registered under: the task is looked up when it is first queued,
the way a worker finds it from the path stored in its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.utils.module_loading import import_string
from django_tasks.base import Task

PROCESS_RECORD = "koppel.sync.tasks.process_record"
RECHECK_RECORD = "koppel.sync.tasks.recheck_record"
DISCOVER_REFUNDS = "koppel.sync.tasks.discover_refunds"
RELEASE_PAUSE = "koppel.sync.tasks.release_pause"
RUN_BACKFILL = "koppel.sync.tasks.run_backfill"
FETCH_MARKETPLACE_INVOICES = "koppel.marketplace.tasks.fetch_marketplace_invoices"


@cache
def task_at(path: str) -> Task[Any, Any]:
    """The task registered under ``path``."""
    found = import_string(path)
    if not isinstance(found, Task):
        raise TypeError(f"{path} is not a task")
    return found


def enqueue(path: str, *args: Any, run_after: datetime | None = None, priority: int | None = None) -> None:
    """Queue the task at ``path`` with ``args``, to run after ``run_after`` (else now), at ``priority``
    (else the task's own)."""
    options: dict[str, Any] = {}
    if run_after is not None:
        options["run_after"] = run_after
    if priority is not None:
        options["priority"] = priority
    runner = task_at(path)
    if options:
        runner = runner.using(**options)
    runner.enqueue(*args)


def enqueue_process(record_id: int, *, run_after: datetime | None = None, trigger: str = "") -> None:
    enqueue(PROCESS_RECORD, record_id, trigger, run_after=run_after)


def enqueue_many(record_ids: Sequence[int], *, trigger: str = "") -> int:
    """``enqueue_process`` for many records at once: one INSERT, the rows django-tasks-db's backend would
    have made one by one (the worker reads them the same way), and one wake-up for the workers."""
    from django_tasks import task_backends
    from django_tasks_db.models import DBTaskResult, get_date_max

    from .statements import insert
    from .wakeup import notify_workers

    if not record_ids:
        return 0
    process_record = task_at(PROCESS_RECORD)
    backend = task_backends[process_record.backend]
    rows = [
        DBTaskResult(
            id=backend._get_id(),
            args_kwargs={"args": [record_id, trigger], "kwargs": {}},
            priority=process_record.priority,
            task_path=process_record.module_path,
            queue_name=process_record.queue_name,
            run_after=get_date_max(),
            backend_name=backend.alias,
        )
        for record_id in record_ids
    ]
    insert(DBTaskResult, rows)
    notify_workers()
    return len(rows)
