"""``koppel worker``: django-tasks-db's task rows, run by Koppel's own loop, plus heartbeats, recovery of dead
workers' tasks and the scheduler, in one process. Run several on PostgreSQL; rows are claimed with
``SKIP LOCKED``.

The loop claims up to ``batch_size`` ready tasks in one transaction and leases the records of its
``process_record`` tasks in one UPDATE (the pipeline's lease conditions unchanged), hands them to its
``threads`` order threads (``KOPPEL_WORKER_THREADS``; one: they run in the loop's own thread, one after the
other), and marks the finished tasks in one UPDATE per outcome. It claims again when a thread is about to be
free, so an order that waits for a slow answer (a timeout, a rate limit waited out) holds up one thread, not
the worker: the threads wait on HTTP side by side, as several workers would, each with its own database
connection, under the same leases, claims and bindings that keep several workers to one invoice an order.

A worker that dies mid-batch leaves its tasks RUNNING and its leases held; the housekeeper of a living
worker gives both back (``reap_dead_workers``), and a task run again finds its record booked or leased and
does nothing. When nothing is ready it waits: on PostgreSQL for a ``NOTIFY`` of a new task
(``koppel.sync.wakeup``), with the poll as the safety net; while orders are under way, until one is done."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
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

from . import housekeeping, pipeline, statements, wakeup
from .identity import set_worker_id
from .tasks import process_record

logger = logging.getLogger("koppel.worker")

#: The module path django-tasks-db stores for the pipeline's task.
PROCESS_PATH = process_record.module_path
#: A busy worker looks for new tasks this often (or when an order is done), whatever its idle interval.
BUSY_LOOK_SECONDS = 0.05


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


class InlinePool:
    """One thread: each task runs at once, in the worker's own thread (and database connection), as the
    in-process runs of the tests and ``--batch`` need."""

    def submit(self, fn: Callable[..., None], *args: Any) -> Future[None]:
        future: Future[None] = Future()
        fn(*args)
        future.set_result(None)
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


class KoppelWorker(Worker):
    """django-tasks-db's worker with batched claims, leases and completions, and ``threads`` orders in
    flight at once (see the module docstring)."""

    def __init__(self, *, batch_size: int, threads: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_size = max(1, batch_size)
        self.threads = max(1, threads)
        self.pool: ThreadPoolExecutor | InlinePool = (
            ThreadPoolExecutor(self.threads, thread_name_prefix="koppel-order")
            if self.threads > 1
            else InlinePool()
        )
        self.in_flight: set[Future[None]] = set()
        self._waiter: wakeup.Waiter | None = None
        self._lock = threading.Lock()
        self._finished: dict[str, list[Any]] = {}
        self._unstarted: list[tuple[DBTaskResult, Any]] = []

    def ready_tasks(self) -> Any:
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        return tasks

    def run(self) -> None:
        logger.info(
            "Starting worker worker_id=%s (batches of %d, %d at once)",
            self.worker_id,
            self.batch_size,
            self.threads,
        )
        try:
            while self.running:
                close_old_connections()
                self.collect_finished()
                self.running_task = bool(self.in_flight)
                claimed = self.claim() if self.has_room() else []
                if claimed:
                    self.run_batch(claimed)
                elif claimed is not None and self.batch and not self.in_flight:
                    logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
                    return
                if self.max_tasks is not None and self._run_tasks >= self.max_tasks and not self.in_flight:
                    return
                if self.running and not claimed:
                    self.wait()
        finally:
            self.finish_in_flight()
            if self._waiter is not None:
                self._waiter.close()
            close_shared_transports()

    def has_room(self) -> bool:
        """Claim more only when a thread is about to be free: what is claimed is leased, and a lease held
        while queued here is an order no other worker can take."""
        return len(self.in_flight) < self.threads and (
            self.max_tasks is None or self._run_tasks + len(self.in_flight) < self.max_tasks
        )

    def wait(self) -> None:
        if self.in_flight:
            if len(self.in_flight) >= self.threads:  # every thread busy: look again when one is free
                pending = self.in_flight
                while self.running and len(pending) >= self.threads:
                    _, pending = wait_for(pending, timeout=BUSY_LOOK_SECONDS, return_when=FIRST_COMPLETED)
            else:  # nothing was ready: look again when an order is done, or soon
                wait_for(self.in_flight, timeout=BUSY_LOOK_SECONDS, return_when=FIRST_COMPLETED)
            return
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
            limit = min(limit, self.max_tasks - self._run_tasks - len(self.in_flight))
        try:
            with exclusive_transaction(tasks.db):
                # Lost in a crash of the database, the tasks are READY again and find their records done.
                statements.commit_unflushed(tasks.db)
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
            statements.update(
                DBTaskResult,
                {"status": TaskResultStatus.RUNNING, "started_at": now, "worker_ids": [self.worker_id]},
                {"id": fresh},
            )
        for row in rows:
            if row.worker_ids:  # run before (a dead worker's): its history is kept
                row.claim(self.worker_id)
            else:
                row.status, row.started_at, row.worker_ids = TaskResultStatus.RUNNING, now, [self.worker_id]

    def run_batch(self, rows: list[DBTaskResult]) -> None:
        """The batch's records are leased together; each order then goes to a thread (with one thread: runs
        in its turn). Other tasks run here, in order. A shutdown asked for meanwhile gives the rest back."""
        items = {row.pk: pipelined(row) for row in rows}
        ids = [item.record_id for item in items.values() if item is not None]
        leased = pipeline.lease_many(ids, self.worker_id) if ids else {}
        self.running_task = True
        try:
            for row in rows:
                item = items[row.pk]
                if item is None:
                    if self.running:
                        self.run_task(row)
                    else:
                        self._unstarted.append((row, None))
                    self.running_task = True  # run_task clears it; the batch is still running
                    continue
                future = self.pool.submit(self.run_pipelined, item, leased.pop(item.record_id, None))
                if not future.done():
                    self.in_flight.add(future)
        finally:
            self.collect_finished()
            self.running_task = bool(self.in_flight)  # a signal now: stop at once, or after these orders

    def run_pipelined(self, item: Pipelined, record: Any) -> None:
        if not self.running:  # stopping: the task and its lease go back
            with self._lock:
                self._unstarted.append((item.row, record))
            return
        threaded = self.threads > 1  # a thread of the pool, not the loop's own
        if threaded:
            close_old_connections()
        try:
            outcome = pipeline.process(item.record_id, self.worker_id, item.trigger, leased=record)
        except BaseException as exc:
            item.row.set_failed(exc)
            logger.exception("Task id=%s failed", item.row.pk)
            if not isinstance(exc, Exception):
                raise
        else:
            label = outcome.label if outcome else "not-claimed"
            with self._lock:
                self._finished.setdefault(label, []).append(item.row.pk)
        finally:
            with self._lock:
                self._run_tasks += 1
            if threaded:  # a pooled PostgreSQL connection goes back to its pool between orders
                close_old_connections()

    def collect_finished(self) -> None:
        """Forget the orders done, and mark their tasks SUCCESSFUL with their outcome: one UPDATE per
        outcome. A thread's unexpected error is logged (its task was marked failed already)."""
        for future in [future for future in self.in_flight if future.done()]:
            self.in_flight.discard(future)
            if future.exception() is not None:
                logger.error("An order thread failed: %r", future.exception())
        with self._lock:
            finished, self._finished = self._finished, {}
            unstarted, self._unstarted = self._unstarted, []
        now = timezone.now()
        for label, pks in finished.items():
            with statements.unflushed():  # lost in a crash of the database: the records say what was done
                statements.update(
                    DBTaskResult,
                    {
                        "status": TaskResultStatus.SUCCESSFUL,
                        "finished_at": now,
                        "return_value": label,
                        "exception_class_path": "",
                        "traceback": "",
                    },
                    {"id": pks, "status": TaskResultStatus.RUNNING},
                )
        if unstarted:
            self.give_back([row for row, _ in unstarted], [record for _, record in unstarted if record])

    def finish_in_flight(self) -> None:
        """Stopping: the orders under way are finished, the ones not begun given back, every outcome
        marked."""
        self.running = False
        if self.in_flight:
            wait_for(self.in_flight)
        self.pool.shutdown(wait=True)
        self.collect_finished()
        self.running_task = False

    def give_back(self, rows: list[DBTaskResult], records: list[Any]) -> None:
        """A stopping worker's unstarted tasks go back to READY, its unstarted leases are freed."""
        DBTaskResult.objects.filter(pk__in=[row.pk for row in rows], status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.READY, started_at=None
        )
        pipeline.release_leases(records, self.worker_id)


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
    threads: int = 1,
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
        threads=threads,
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
