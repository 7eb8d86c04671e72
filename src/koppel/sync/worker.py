"""``koppel worker``: django-tasks-db's worker plus heartbeats, recovery of dead workers' tasks and the
scheduler, in one process. Run several on PostgreSQL; rows are claimed with ``SKIP LOCKED``."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from koppel.connections import crypto
from koppel.connections.models import Connection

from . import housekeeping
from .identity import set_worker_id

logger = logging.getLogger("koppel.worker")


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


def run_worker(
    *,
    interval: float = 0.2,
    worker_id: str | None = None,
    batch: bool = False,
    max_tasks: int | None = None,
    housekeeping_enabled: bool = True,
) -> None:
    worker_id = worker_id or f"w-{get_random_string(12)}"
    set_worker_id(worker_id)
    housekeeping.heartbeat(worker_id)
    keeper = Housekeeper(worker_id, settings.WORKER_HEARTBEAT_SECONDS) if housekeeping_enabled else None
    if keeper:
        keeper.start()
    worker = Worker(
        queue_names=["*"],
        interval=interval,
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
