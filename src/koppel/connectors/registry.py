"""Finds connectors: every package under ``koppel.connectors`` with a ``connector`` module that defines
``SOURCE`` and/or ``TARGET``. Adding a system is adding a folder; nothing here or in the pipeline changes."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import koppel.connectors

from .base import SourceConnector, TargetConnector


@cache
def _discover() -> tuple[dict[str, type[SourceConnector]], dict[str, type[TargetConnector]]]:
    sources: dict[str, type[SourceConnector]] = {}
    targets: dict[str, type[TargetConnector]] = {}
    for info in pkgutil.iter_modules(koppel.connectors.__path__):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"koppel.connectors.{info.name}.connector")
        except ModuleNotFoundError as exc:
            if exc.name == f"koppel.connectors.{info.name}.connector":
                continue
            raise
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
