"""Opt-in profile of the pipeline: per record, the time of each phase (claim, fetch, checks, debtor,
invoice, outcome), the HTTP time within it (from the record's :class:`~koppel.connectors.http.CallLog`),
and the SQL statements and transactions it ran, written as one JSON line per record.

Enabled by ``KOPPEL_PROFILE=<file>`` (read once, at import); ``bench/e2e.py`` sets it for its workers and
sums the lines. Disabled, :func:`phase` hands back one shared no-op context manager, :func:`watch` returns
at once and :func:`profiled` calls the function straight through: nothing is recorded, nothing installed.

Phases do not overlap: one started inside another pauses the outer one, so every millisecond, call and
statement is counted once, in the innermost phase (or ``other`` inside the record outside any phase).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: The file the records are appended to; "" when profiling is off.
PROFILE_FILE = os.environ.get("KOPPEL_PROFILE", "")
ENABLED = bool(PROFILE_FILE)

_NULL: AbstractContextManager[None] = nullcontext()
_local = threading.local()
_write_lock = threading.Lock()


def enable(path: str) -> None:
    """Turn profiling on in this process (the tests; the environment variable does it at import)."""
    global PROFILE_FILE, ENABLED
    PROFILE_FILE, ENABLED = path, True


def disable() -> None:
    global PROFILE_FILE, ENABLED
    PROFILE_FILE, ENABLED = "", False


class _Counter:
    __slots__ = ("calls", "http_ms", "ms", "sql", "sql_ms")

    def __init__(self) -> None:
        self.ms = self.http_ms = self.sql_ms = 0.0
        self.calls = self.sql = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ms": round(self.ms, 3),
            "http_ms": round(self.http_ms, 3),
            "calls": self.calls,
            "sql": self.sql,
            "sql_ms": round(self.sql_ms, 3),
        }


class _Record:
    """What one record's attempt costs, while it runs on this thread."""

    def __init__(self, record_id: Any) -> None:
        self.record_id = record_id
        self.claimed_at = time.time()
        self.started = time.perf_counter()
        self.phases: dict[str, _Counter] = {}
        self.stack: list[tuple[str, float]] = []  # (phase, perf_counter when it last resumed)
        self.log: Any = None
        self.seen_calls = 0
        self.transactions = 0
        self.autocommit = 0

    def top(self) -> _Counter:
        name = self.stack[-1][0] if self.stack else "other"
        counter = self.phases.get(name)
        if counter is None:
            counter = self.phases[name] = _Counter()
        return counter

    def take_calls(self) -> None:
        """The calls the log gained since last looked at go to the phase running now."""
        if self.log is None:
            return
        calls = self.log.calls
        if len(calls) > self.seen_calls:
            counter = self.top()
            for call in calls[self.seen_calls :]:
                counter.calls += 1
                counter.http_ms += float(call.get("ms") or 0.0)
            self.seen_calls = len(calls)


class _Totals:
    """Everything this thread's database connection ran since profiling began on it (the task queue's
    statements between records included)."""

    def __init__(self) -> None:
        self.sql = self.transactions = self.autocommit = 0
        self.sql_ms = 0.0


def _totals() -> _Totals:
    totals = getattr(_local, "totals", None)
    if totals is None:
        totals = _local.totals = _Totals()
    return totals


def _current() -> _Record | None:
    return getattr(_local, "record", None)


def _install() -> None:
    """Count the statements and transactions of this thread's connection (once per connection object)."""
    from django.db import connection

    if getattr(connection, "_koppel_profiled", False):
        return
    connection._koppel_profiled = True
    connection.execute_wrappers.append(_execute)
    for name in ("commit", "rollback"):
        original = getattr(connection, name)

        def ended(original: Callable[[], None] = original) -> None:
            _totals().transactions += 1
            record = _current()
            if record is not None:
                record.transactions += 1
            original()

        setattr(connection, name, ended)


def _execute(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        ms = (time.perf_counter() - started) * 1000
        # A statement in autocommit is its own transaction (SQLite's BEGIN opens an atomic block's).
        own = not context["connection"].in_atomic_block and sql != "BEGIN"
        totals = _totals()
        totals.sql += 1
        totals.sql_ms += ms
        totals.autocommit += own
        record = _current()
        if record is not None:
            counter = record.top()
            counter.sql += 1
            counter.sql_ms += ms
            record.autocommit += own


def _phase(name: str) -> Iterator[None]:
    record = _current()
    if record is None:
        yield
        return
    now = time.perf_counter()
    record.take_calls()
    if record.stack:  # pause the outer phase
        outer, resumed = record.stack[-1]
        record.top().ms += (now - resumed) * 1000
    record.stack.append((name, now))
    try:
        yield
    finally:
        record.take_calls()
        end = time.perf_counter()
        _, resumed = record.stack[-1]
        record.top().ms += (end - resumed) * 1000
        record.stack.pop()
        if record.stack:
            outer, _ = record.stack[-1]
            record.stack[-1] = (outer, end)


_phase_cm = contextmanager(_phase)


def phase(name: str) -> AbstractContextManager[None]:
    """``with profiling.phase("fetch"):`` times the block as that phase of the current record."""
    if not ENABLED:
        return _NULL
    return _phase_cm(name)


def watch(log: Any) -> None:
    """The record's call log, whose timings are the HTTP time of its phases."""
    if not ENABLED:
        return
    record = _current()
    if record is not None:
        record.take_calls()
        record.log, record.seen_calls = log, len(log.calls)


def profiled(fn: F) -> F:
    """Profile each call of ``fn(record_id, ...)`` as one record (one JSON line)."""

    @wraps(fn)
    def wrapper(record_id: Any, *args: Any, **kwargs: Any) -> Any:
        if not ENABLED or _current() is not None:
            return fn(record_id, *args, **kwargs)
        _install()
        record = _local.record = _Record(record_id)
        result: Any = None
        try:
            result = fn(record_id, *args, **kwargs)
            return result
        finally:
            _local.record = None
            record.take_calls()
            wall = (time.perf_counter() - record.started) * 1000
            other = record.phases.get("other") or _Counter()
            other.ms += wall - sum(c.ms for key, c in record.phases.items() if key != "other")
            record.phases["other"] = other
            _write(record, wall, result)

    return wrapper  # type: ignore[return-value]


def _write(record: _Record, wall: float, result: Any) -> None:
    totals = _totals()
    line = {
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "record": record.record_id,
        "claimed_at": record.claimed_at,
        "ms": round(wall, 3),
        "outcome": "not-claimed" if result is None else str(getattr(result, "label", result)),
        "transactions": record.transactions,
        "autocommit": record.autocommit,
        "phases": {name: counter.as_dict() for name, counter in record.phases.items()},
        "thread_totals": {
            "sql": totals.sql,
            "sql_ms": round(totals.sql_ms, 3),
            "transactions": totals.transactions,
            "autocommit": totals.autocommit,
        },
    }
    text = json.dumps(line, separators=(",", ":")) + "\n"
    with _write_lock, open(PROFILE_FILE, "a", encoding="utf-8") as out:
        out.write(text)
