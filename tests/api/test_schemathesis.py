"""Schemathesis against the live API (``/api/openapi.json`` served by a live server on loopback), with every
check on: no 5xx, every status, header and body as the schema says, schema-valid requests accepted and
invalid ones refused. Bounded examples, a fixed seed and deterministic generation, so CI sees the same run
each time. The token is a staff token of an account with a real connection (sandbox shop and
administration) and a few records, so every operation, the staff ones included, is reached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from koppel.accounts.models import ApiToken
from koppel.sync.models import State
from tests.factories import make_record

pytest.importorskip("schemathesis")

pytestmark = pytest.mark.slow

#: Examples per operation and phase; enough to find what the fuzzing found by hand, small enough for CI.
MAX_EXAMPLES = int(os.environ.get("KOPPEL_SCHEMATHESIS_EXAMPLES", "25"))
SEED = 13
#: Operations that refuse some schema-valid requests for a reason a JSON schema cannot say, and how: the
#: systems refuse the credentials, the connection could not be used (422); a range that ends before it
#: starts (400) or lies outside 2000-2099 (422); the shop does not answer for the order (502).
REFUSE_VALID = {
    "create_connection": [422],
    "update_connection": [422],
    "start_backfill": [400, 422],
    "fetch_order": [502],
}
ACCEPTED = ["2xx", "401", "403", "404", "409"]


def config_file(path: Path) -> Path:
    """A schemathesis.toml with the refusals above allowed for their operation only."""
    lines = []
    for operation, statuses in REFUSE_VALID.items():
        allowed = ", ".join(f'"{status}"' for status in [*ACCEPTED, *map(str, statuses)])
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation}"',
            f"checks.positive_data_acceptance.expected-statuses = [{allowed}]",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def staff_token(account, connection) -> str:
    """A token of ``account`` (whose connection goes from the sandbox shop to the administration) whose
    only member is a staff user: the staff operations answer too."""
    account.members.add(get_user_model().objects.create_user("ops", "ops@example.nl", "x", is_staff=True))
    for number, state in [("1001", State.HANDLED), ("1002", State.ERROR), ("1003", State.OPEN)]:
        make_record(connection, number, state, 2)
    row, token = ApiToken.issue(account, "schemathesis")
    # Out of reach of DELETE /api/tokens/{id} with the small ids schemathesis tries, so the run keeps it.
    ApiToken.objects.filter(pk=row.pk).update(id=7_340_219_581)
    return token


def test_the_live_api_matches_its_schema_on_every_check(live_server, staff_token, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config_file(tmp_path / "schemathesis.toml")),
        "run",
        f"{live_server.url}/api/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {staff_token}",
        "--no-color",
        "--output-truncate",
        "false",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
