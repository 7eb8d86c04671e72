"""Waking an idle worker the moment there is work: on PostgreSQL a new task sends ``NOTIFY`` on
:data:`CHANNEL` and waiting workers ``LISTEN`` on it; the worker's poll stays the safety net (and is all
there is on SQLite). A notification sent inside a transaction is delivered at its commit, so a worker
never wakes for a task it cannot see yet; PostgreSQL folds repeated ones of one transaction into one."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connections

logger = logging.getLogger("koppel.worker")

CHANNEL = "koppel_tasks"


def notify_workers(using: str = "default") -> None:
    """Tell the waiting workers there is a new task (nothing on SQLite). Call it in the transaction that
    inserted the task, or right after; code that inserts tasks without ``Model.save`` must call it."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])


def task_saved(sender: Any, instance: Any, created: bool, using: str, **kwargs: Any) -> None:
    """``post_save`` of django-tasks-db's task rows: a new one wakes the workers."""
    if created:
        notify_workers(using)


class Waiter:
    """An idle worker's pause between looks at the queue: a plain sleep (SQLite)."""

    def wait(self, timeout: float) -> None:
        time.sleep(timeout)

    def close(self) -> None:
        pass


class NotifiedWaiter(Waiter):
    """On PostgreSQL: wait on a connection of its own that ``LISTEN``s on :data:`CHANNEL`, woken by the
    first new task, at the latest after ``timeout`` (retries become due without a notice)."""

    def __init__(self, conninfo: str) -> None:
        import psycopg

        self._connection: Any = psycopg.connect(conninfo, autocommit=True)
        self._connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> None:
        if self._connection is None:  # lost earlier: the poll goes on, by sleeping
            time.sleep(timeout)
            return
        try:
            for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                break
        except Exception:
            logger.warning("Lost the LISTEN connection; waiting by polling", exc_info=True)
            self.close()
            time.sleep(timeout)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def waiter(using: str = "default") -> Waiter:
    """The pause for this database: woken by NOTIFY on PostgreSQL, a sleep elsewhere."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return Waiter()
    from psycopg.conninfo import make_conninfo

    params = connection.settings_dict
    parts = {
        "dbname": params["NAME"],
        "user": params.get("USER"),
        "password": params.get("PASSWORD"),
        "host": params.get("HOST"),
        "port": params.get("PORT"),
    }
    try:
        return NotifiedWaiter(make_conninfo(**{key: str(value) for key, value in parts.items() if value}))
    except Exception:
        logger.warning("Cannot LISTEN for new tasks; waiting by polling", exc_info=True)
        return Waiter()
