"""``koppel worker``: django-tasks-db's task rows, run by Koppel's own loop, plus heartbeats, recovery of dead
workers' tasks and the scheduler, in one process. Run several on PostgreSQL; rows are claimed with
``SKIP LOCKED``.

The loop claims up to ``batch_size`` ready tasks in one transaction and leases the records of its
``process_record`` tasks in one UPDATE (the pipeline's lease conditions unchanged), runs them one after the
other, and marks the finished tasks in one UPDATE per outcome. A worker that dies mid-batch leaves its tasks
RUNNING and its leases held; the housekeeper of a living worker gives both back (``reap_dead_workers``), and a
task run again finds its record booked or leased and does nothing. When nothing is ready it waits: on
PostgreSQL for a ``NOTIFY`` of a new task (``koppel.sync.wakeup``), with the poll as the safety net."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import OperationalError, close_old_connections, connection
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from koppel.connections import crypto
from koppel.connections.models import Connection
from koppel.connectors.http import close_shared_transports

from . import housekeeping, pipeline, wakeup
from .identity import set_worker_id
from .tasks import process_record

logger = logging.getLogger("koppel.worker")

#: The module path django-tasks-db stores for the pipeline's task.
PROCESS_PATH = process_record.module_path


class Housekeeper(threading.Thread):
    def __init__(self, worker_id: str, interval: float) -> None:
        super().__init__(name="koppel-housekeeping", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                housekeeping.run_once(self.worker_id)
            except Exception:
                logger.exception("Housekeeping failed; trying again in %.0f s", self.interval)
            finally:
                close_old_connections()
            self.stopping.wait(self.interval)
        connection.close()


#: How many stored credentials a starting worker tries to read.
KEY_CHECK_SAMPLE = 50


def keys_problem() -> str:
    """Why this process must not work on the queue (it could not read the credentials), or ``""``."""
    rows = Connection.objects.order_by("-pk").values_list(
        "source_credentials_encrypted", "target_credentials_encrypted"
    )[:KEY_CHECK_SAMPLE]
    return crypto.worker_keys_problem([token for row in rows for token in row])


@dataclass(slots=True)
class Pipelined:
    """A claimed ``process_record`` task: the record it names and why it was queued."""

    row: DBTaskResult
    record_id: int
    trigger: str


def pipelined(row: DBTaskResult) -> Pipelined | None:
    """The record id and trigger of a ``process_record`` task as ``enqueue_process`` stores them, else
    ``None`` (the task then runs the ordinary way)."""
    if row.task_path != PROCESS_PATH:
        return None
    args, kwargs = row.args_kwargs.get("args", []), row.args_kwargs.get("kwargs", {})
    record_id = args[0] if args else kwargs.get("record_id")
    trigger = args[1] if len(args) > 1 else kwargs.get("trigger", "")
    if len(args) > 2 or set(kwargs) - {"record_id", "trigger"} or not isinstance(record_id, int):
        return None
    return Pipelined(row, record_id, trigger if isinstance(trigger, str) else "")


class KoppelWorker(Worker):
    """django-tasks-db's worker with batched claims, leases and completions (see the module docstring)."""

    def __init__(self, *, batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_size = max(1, batch_size)
        self._waiter: wakeup.Waiter | None = None
        self._finished: dict[str, list[Any]] = {}

    def ready_tasks(self) -> Any:
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        return tasks

    def run(self) -> None:
        logger.info("Starting worker worker_id=%s (batches of %d)", self.worker_id, self.batch_size)
        try:
            while self.running:
                close_old_connections()
                claimed = self.claim()
                if claimed:
                    self.run_batch(claimed)
                elif claimed is not None and self.batch:
                    logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
                    return
                if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                    return
                if self.running and not claimed:
                    self.wait()
        finally:
            if self._waiter is not None:
                self._waiter.close()
            close_shared_transports()

    def wait(self) -> None:
        if self._waiter is None:  # made when first needed: a worker in batch mode never waits
            self._waiter = wakeup.waiter()
        self._waiter.wait(self.interval)

    def claim(self) -> list[DBTaskResult] | None:
        """Up to ``batch_size`` ready tasks, marked RUNNING for this worker in one transaction; ``None``
        when the database was locked (SQLite: try again). A plain read first: an idle worker takes no
        write lock."""
        tasks = self.ready_tasks()
        if not tasks.exists():
            return []
        limit = self.batch_size
        if self.max_tasks is not None:
            limit = min(limit, self.max_tasks - self._run_tasks)
        try:
            with exclusive_transaction(tasks.db):
                rows = list(tasks.select_for_update(skip_locked=True)[:limit])
                self.mark_running(rows)
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return None
            raise
        return rows

    def mark_running(self, rows: list[DBTaskResult]) -> None:
        now = timezone.now()
        fresh = [row.pk for row in rows if not row.worker_ids]
        if fresh:
            DBTaskResult.objects.filter(pk__in=fresh).update(
                status=TaskResultStatus.RUNNING, started_at=now, worker_ids=[self.worker_id]
            )
        for row in rows:
            if row.worker_ids:  # run before (a dead worker's): its history is kept
                row.claim(self.worker_id)
            else:
                row.status, row.started_at, row.worker_ids = TaskResultStatus.RUNNING, now, [self.worker_id]

    def run_batch(self, rows: list[DBTaskResult]) -> None:
        """The batch's records are leased together; each task then runs in its turn. A shutdown asked for
        meanwhile gives the rest back."""
        items = {row.pk: pipelined(row) for row in rows}
        ids = [item.record_id for item in items.values() if item is not None]
        leased = pipeline.lease_many(ids, self.worker_id) if ids else {}
        self.running_task = True
        try:
            for index, row in enumerate(rows):
                if not self.running:
                    self.give_back(rows[index:], leased)
                    return
                item = items[row.pk]
                if item is None:
                    self.run_task(row)
                    self.running_task = True  # run_task clears it; the batch is still running
                    continue
                self.run_pipelined(item, leased.pop(item.record_id, None))
        finally:
            self.running_task = False
            self.flush_finished()

    def run_pipelined(self, item: Pipelined, record: Any) -> None:
        try:
            outcome = pipeline.process(item.record_id, self.worker_id, item.trigger, leased=record)
        except BaseException as exc:
            item.row.set_failed(exc)
            logger.exception("Task id=%s failed", item.row.pk)
            if not isinstance(exc, Exception):
                raise
        else:
            label = outcome.label if outcome else "not-claimed"
            self._finished.setdefault(label, []).append(item.row.pk)
        finally:
            self._run_tasks += 1

    def flush_finished(self) -> None:
        """The pipeline's finished tasks, marked SUCCESSFUL with their outcome: one UPDATE per outcome."""
        finished, self._finished = self._finished, {}
        now = timezone.now()
        for label, pks in finished.items():
            DBTaskResult.objects.filter(pk__in=pks, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.SUCCESSFUL,
                finished_at=now,
                return_value=label,
                exception_class_path="",
                traceback="",
            )

    def give_back(self, rows: list[DBTaskResult], leased: dict[int, Any]) -> None:
        """A stopping worker's unstarted tasks go back to READY, its unstarted leases are freed."""
        DBTaskResult.objects.filter(pk__in=[row.pk for row in rows], status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.READY, started_at=None
        )
        pipeline.release_leases(leased.values(), self.worker_id)


def warm_up() -> None:
    """Import what the first order needs (every connector, its client and mapping) before the first task,
    so that order is not the one that waits for the imports."""
    from koppel.connectors import registry

    registry.sources()
    registry.targets()


def default_interval() -> float:
    """Seconds between looks when idle: on PostgreSQL a NOTIFY wakes the worker, so the poll is only the
    safety net; on SQLite the poll is all there is, and a read that finds nothing costs little."""
    return 0.2 if connection.vendor == "postgresql" else 0.05


def run_worker(
    *,
    interval: float | None = None,
    worker_id: str | None = None,
    batch: bool = False,
    max_tasks: int | None = None,
    housekeeping_enabled: bool = True,
    batch_size: int | None = None,
) -> None:
    worker_id = worker_id or f"w-{get_random_string(12)}"
    set_worker_id(worker_id)
    warm_up()
    housekeeping.heartbeat(worker_id)
    keeper = Housekeeper(worker_id, settings.WORKER_HEARTBEAT_SECONDS) if housekeeping_enabled else None
    if keeper:
        keeper.start()
    worker = KoppelWorker(
        batch_size=batch_size or settings.WORKER_BATCH_SIZE,
        queue_names=["*"],
        interval=default_interval() if interval is None else interval,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    logger.info("Worker %s started", worker_id)
    try:
        if not batch:
            worker.configure_signals()
        worker.run()
    finally:
        if keeper:
            keeper.stopping.set()
            keeper.join(timeout=5)
        housekeeping.forget_worker(worker_id)
        logger.info("Worker %s stopped", worker_id)
