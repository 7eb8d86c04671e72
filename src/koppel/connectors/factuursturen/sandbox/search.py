"""The search index behind ``GET search/{area}/{field}/{query}``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class TextIndex:
    """Case-insensitive "contains" search over the string values of many objects, fast enough to run on
    every order with tens of thousands of clients and invoices.

    A "contains" match cannot use a plain dict, and a Python loop over 20,000 objects costs milliseconds.
    So each *distinct* folded value is kept once (most values repeat: "true", "EUR", "146", dates) with
    the keys of the objects holding it, and every value is filed under each of its 4-character
    substrings. A query then only checks the values filed under its rarest 4-gram; queries shorter than
    that scan the distinct values.
    """

    GRAM = 4

    def __init__(self) -> None:
        self._keys: dict[str, list[str]] = {}  # folded value -> keys of the objects holding it
        self._values: dict[str, tuple[str, ...]] = {}  # key -> its folded values
        self._grams: dict[str, list[str]] = {}  # 4-gram -> the distinct values containing it
        self._order: dict[str, int] = {}  # key -> insertion number, to answer in insertion order
        self._added = 0

    def set(self, key: str, values: Iterable[str]) -> None:
        folded = tuple(dict.fromkeys(value.casefold() for value in values if value))
        old = self._values.get(key)
        if old == folded:
            return
        if old is None:
            self._order[key] = self._added
            self._added += 1
        else:
            for value in old:
                self._keys[value].remove(key)
        self._values[key] = folded
        for value in folded:
            keys = self._keys.get(value)
            if keys is not None:
                keys.append(key)
                continue
            self._keys[value] = [key]
            for gram in {value[i : i + self.GRAM] for i in range(len(value) - self.GRAM + 1)}:
                self._grams.setdefault(gram, []).append(value)

    def discard(self, key: str) -> None:
        for value in self._values.pop(key, ()):
            self._keys[value].remove(key)
        self._order.pop(key, None)

    def search(self, query: str) -> list[str]:
        """Keys of the objects with a value containing ``query`` (case-insensitive), in insertion order."""
        needle = query.casefold()
        if not needle:
            return []
        if len(needle) < self.GRAM:
            candidates: Iterable[str] = self._keys
        else:
            grams = (
                self._grams.get(needle[i : i + self.GRAM], []) for i in range(len(needle) - self.GRAM + 1)
            )
            candidates = min(grams, key=len)
        hits: set[str] = set()
        for value in candidates:
            if needle in value:
                hits.update(self._keys[value])
        return sorted(hits, key=self._order.__getitem__)


def _searchable(obj: dict[str, Any], field_name: str = "all") -> list[str]:
    """The values a search on ``field_name`` looks at: every scalar plus the reference lines for "all"."""
    if field_name == "reference":
        return list(obj["reference"].values())
    if field_name != "all":
        return [obj[field_name]]
    return [value for value in obj.values() if isinstance(value, str)] + list(obj["reference"].values())
