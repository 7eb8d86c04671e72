"""Waking an idle worker the moment there is work: on PostgreSQL a new task sends ``NOTIFY`` on
:data:`CHANNEL` and waiting workers ``LISTEN`` on it; the worker's poll stays the safety net (and is all
there is on SQLite). A notification sent inside a transaction is delivered at its commit, so a worker
never wakes for a task it cannot see yet; PostgreSQL folds repeated ones of one transaction into one."""

from __future__ import annotations

from typing import Any

from django.db import connections

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
