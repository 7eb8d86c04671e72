"""Which worker is this? Set by ``koppel worker`` (per process, or per thread when a process runs several);
anything else runs "inline"."""

from __future__ import annotations

import os
import threading

_process_worker_id: str | None = None
_local = threading.local()


def set_worker_id(value: str) -> None:
    global _process_worker_id
    _process_worker_id = value
    _local.worker_id = value


def worker_id() -> str:
    return getattr(_local, "worker_id", None) or _process_worker_id or f"inline-{os.getpid()}"
