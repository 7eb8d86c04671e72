"""The sandboxes and the command-line tools run without Django settings: importing the connectors and the
documents must not need them (a marked label once made ``koppel demo``'s sandbox process fail to start)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_connectors_import_without_django_settings():
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    code = (
        "from koppel.connectors import registry; from koppel.documents import codes; "
        "print(sorted(registry.sources()), sorted(registry.targets()), len(codes.REMEDIES))"
    )
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "kmoshops" in done.stdout and "factuursturen" in done.stdout
