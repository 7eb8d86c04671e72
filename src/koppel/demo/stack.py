"""The demo's processes: ports, the child processes of the stack (``koppel sandbox``, ``serve``, ``worker``)
and their environment, Django set up in this process, and the demo login and API token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # Django models are imported only once settings are configured
    from koppel.accounts.models import Account


HOST = "127.0.0.1"
DEMO_USER = "demo"
DEMO_PASSWORD = "koppel-demo"
DEMO_ACCOUNT = "Demo"


STOP_TIMEOUT = 10.0


def koppel_command(*args: str) -> list[str]:
    """``koppel ARGS`` run with this interpreter, so it works without the console script on PATH."""
    return [sys.executable, "-m", "koppel.cli", *args]


def port_taken(port: int, host: str = HOST) -> bool:
    """True when something listens on ``host:port`` (binds the way uvicorn does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------- processes


class ChildDied(RuntimeError):
    def __init__(self, name: str, code: int | None, log: Path) -> None:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
        super().__init__(f"{name} stopped unexpectedly (exit code {code}); last lines of {log}:\n{tail}")
        self.name = name


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    """Koppel's processes (sandboxes, web app, workers), started as children and stopped together.

    Each child runs in its own session, so a Ctrl-C in the terminal reaches only the parent, which then
    stops the children in reverse order of starting: workers first, the sandboxes last.
    """

    env: dict[str, str]
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name.replace(' ', '-')}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                koppel_command(*args),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def check(self) -> None:
        """Raise :class:`ChildDied` when a child has exited."""
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise ChildDied(child.name, code, child.log)

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Wait until ``url`` answers 200, watching that no child dies meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(0.2)

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        """Terminate every child (SIGTERM, then SIGKILL after ``timeout`` s); the names of those killed."""
        killed = []
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
                try:
                    child.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
                    killed.append(child.name)
        self.children.clear()
        return killed


def stack_env(data_dir: Path, public_url: str, **extra: str) -> dict[str, str]:
    """The environment of the children (and of this process, which talks to the same database)."""
    env = dict(os.environ)
    env.update(KOPPEL_DATA_DIR=str(data_dir), KOPPEL_PUBLIC_URL=public_url, PYTHONUNBUFFERED="1", **extra)
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process with the children's environment, and migrate the database."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "koppel.settings")
    Path(env["KOPPEL_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


# ---------------------------------------------------------------------------------------- set-up


def ensure_demo_login() -> Account:
    """The demo user (staff and superuser, so the admin shows everything) and its account."""
    from django.contrib.auth import get_user_model

    from koppel.accounts.models import Account

    user, _ = get_user_model().objects.get_or_create(username=DEMO_USER)
    user.set_password(DEMO_PASSWORD)
    user.is_staff = user.is_superuser = user.is_active = True
    user.save()
    account = Account.objects.filter(name=DEMO_ACCOUNT).order_by("pk").first()
    if account is None:
        account = Account.objects.create(name=DEMO_ACCOUNT)
    account.members.add(user)
    return account


def issue_demo_token(account: Account) -> str:
    """A fresh API token each run (only its hash is stored, so an old one cannot be shown again)."""
    from koppel.accounts.models import ApiToken

    ApiToken.objects.filter(account=account, name="demo").delete()
    return ApiToken.issue(account, "demo")[1]
