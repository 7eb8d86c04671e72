"""The official e-invoice checks for tests: ``validate(xml)`` runs ``../shared/einvoice/validate.py`` (UBL 2.1
XSD, EN 16931 and Peppol BIS Billing 3.0 schematrons) and returns the fatal rule ids.

Skips the test when ../shared (the validation artifacts are not copied into the project) or saxonche is
missing.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
EINVOICE = SHARED / "einvoice"
VALIDATOR = EINVOICE / "validate.py"
SAMPLES = EINVOICE / "samples"
#: The Peppol rule a consumer's invoice fails: a consumer has no electronic address (Peppol endpoint).
BUYER_ENDPOINT_RULE = "PEPPOL-EN16931-R010"

_FATAL = re.compile(r"^\s*FATAL \[[^\]]+\] (\S+?):")
_XSD = re.compile(r"^\s*XSD ERROR (.*)$")


def require_validator() -> None:
    if not VALIDATOR.exists():
        pytest.skip(f"the e-invoice validator {VALIDATOR} is not available (../shared is absent)")
    if importlib.util.find_spec("saxonche") is None:
        pytest.skip("saxonche is not installed (pip install saxonche): the schematrons cannot run")


def validate(xml: bytes) -> list[str]:
    """The fatal rule ids of one UBL document (``XSD: <message>`` for a schema error), empty when valid."""
    return validate_many([xml])[0]


def validate_many(documents: list[bytes]) -> list[list[str]]:
    """:func:`validate` for several documents in one run (the stylesheets are compiled once)."""
    require_validator()
    with tempfile.TemporaryDirectory(prefix="ubl-") as directory:
        paths = []
        for index, document in enumerate(documents):
            path = Path(directory) / f"doc-{index}.xml"
            path.write_bytes(document)
            paths.append(path)
        done = subprocess.run(
            [sys.executable, str(VALIDATOR), *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"validate.py failed ({done.returncode}): {done.stderr or done.stdout}")
    return _fatal_per_file(done.stdout, len(documents))


def _fatal_per_file(output: str, count: int) -> list[list[str]]:
    results: list[list[str]] = []
    for line in output.splitlines():
        if line.startswith("== "):
            results.append([])
        elif match := _FATAL.match(line):
            results[-1].append(match.group(1))
        elif match := _XSD.match(line):
            results[-1].append(f"XSD: {match.group(1)}")
    if len(results) != count:
        raise RuntimeError(f"validate.py reported {len(results)} files of {count}:\n{output}")
    return results
