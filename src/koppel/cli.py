"""The ``koppel`` command: ``serve``, ``worker``, ``demo``, ``sandbox``, ``preview``, and every Django
management command (``koppel migrate``, ``koppel createsuperuser``, ...)."""

from __future__ import annotations

import argparse
import os
import sys


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "koppel.settings")
    import django

    django.setup()


def cmd_serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="koppel serve", description="Run the web app (dashboard, API, webhooks)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="web processes (use >1 only on PostgreSQL)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "koppel.settings")
    import uvicorn

    uvicorn.run(
        "koppel.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    return 0


def cmd_worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="koppel worker", description="Run a background worker.")
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between looks when idle (default 0.05 on SQLite; 0.2 on PostgreSQL, where a new task "
        "wakes the worker at once)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="tasks claimed at once (default KOPPEL_WORKER_BATCH, 10)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="orders booked at once (default KOPPEL_WORKER_THREADS, 4)"
    )
    parser.add_argument("--worker-id", default=None)
    parser.add_argument("--batch", action="store_true", help="run what is ready, then exit")
    args = parser.parse_args(argv)
    if args.threads:  # before the settings are read: the database pool is sized for the threads
        os.environ["KOPPEL_WORKER_THREADS"] = str(args.threads)
    _django()
    from koppel.sync.worker import keys_problem, run_worker

    if problem := keys_problem():
        print(f"koppel worker: not started. {problem}", file=sys.stderr)
        return 2
    from django.conf import settings

    run_worker(
        interval=args.interval,
        worker_id=args.worker_id,
        batch=args.batch,
        batch_size=args.batch_size,
        threads=settings.WORKER_THREADS,
    )
    return 0


def cmd_sandbox(argv: list[str]) -> int:
    from koppel.connectors import registry

    parser = argparse.ArgumentParser(
        prog="koppel sandbox", description="Serve the simulated APIs of every connector (the sandboxes)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    from koppel.sandbox.server import serve

    mounted = ", ".join(f"/{name}" for name in registry.sandboxes())
    print(f"Sandboxes on http://{args.host}:{args.port}: {mounted}; control API under /_sandbox")
    serve(args.host, args.port)
    return 0


def cmd_preview(argv: list[str]) -> int:
    from koppel.preview import main

    return main(argv)


def cmd_demo(argv: list[str]) -> int:
    from koppel.demo import main

    return main(argv)


COMMANDS = {
    "serve": cmd_serve,
    "worker": cmd_worker,
    "sandbox": cmd_sandbox,
    "preview": cmd_preview,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:]) or 0
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        print(
            "\nCommands: "
            + ", ".join(COMMANDS)
            + ", or any Django management command (koppel help --django)."
        )
        if argv[1:2] != ["--django"]:
            return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "koppel.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["koppel", *[a for a in argv if a != "--django"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
