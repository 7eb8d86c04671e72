"""Finds connectors: every package under ``koppel.connectors`` with a ``connector`` module that defines
``SOURCE`` and/or ``TARGET``, and a ``sandbox`` module that defines ``SANDBOX``. Adding a system is adding a
folder; nothing here, in the sandbox server or in the pipeline changes."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any

import koppel.connectors

from .base import SourceConnector, TargetConnector


def _modules(name: str) -> Iterator[tuple[str, ModuleType]]:
    """``(package, module)`` for every connector package that has a module called ``name``."""
    for info in pkgutil.iter_modules(koppel.connectors.__path__):
        if not info.ispkg:
            continue
        try:
            yield info.name, importlib.import_module(f"koppel.connectors.{info.name}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"koppel.connectors.{info.name}.{name}":
                continue
            raise


@cache
def _discover() -> tuple[dict[str, type[SourceConnector]], dict[str, type[TargetConnector]]]:
    sources: dict[str, type[SourceConnector]] = {}
    targets: dict[str, type[TargetConnector]] = {}
    for _, module in _modules("connector"):
        if source := getattr(module, "SOURCE", None):
            sources[source.kind] = source
        if target := getattr(module, "TARGET", None):
            targets[target.kind] = target
    return sources, targets


def sources() -> dict[str, type[SourceConnector]]:
    return _discover()[0]


def targets() -> dict[str, type[TargetConnector]]:
    return _discover()[1]


def source(kind: str) -> type[SourceConnector]:
    try:
        return sources()[kind]
    except KeyError:
        raise LookupError(f"Unknown source {kind!r}; known: {', '.join(sorted(sources()))}") from None


def target(kind: str) -> type[TargetConnector]:
    try:
        return targets()[kind]
    except KeyError:
        raise LookupError(f"Unknown target {kind!r}; known: {', '.join(sorted(targets()))}") from None


@cache
def sandboxes() -> dict[str, type[Any]]:
    """Each connector package's simulated API, by package name (which is also its URL prefix).

    A ``SANDBOX`` class takes ``(public_url)`` and offers ``api_router()`` and ``control_router()``, and
    optionally an async ``aclose()``; the sandbox server mounts them at ``/<name>`` and
    ``/_sandbox/<name>``.
    """
    return {name: module.SANDBOX for name, module in _modules("sandbox") if hasattr(module, "SANDBOX")}
