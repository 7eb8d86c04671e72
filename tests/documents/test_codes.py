"""The error codes a merchant reads about in the README are the ones the code gives, with the same words."""

from __future__ import annotations

from pathlib import Path

from koppel.documents.codes import REMEDIES, Code, remedies_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_code_has_a_meaning_and_a_remedy():
    assert set(REMEDIES) == set(Code)
    assert all(meaning and fix for meaning, fix in REMEDIES.values())


def test_the_readme_shows_the_error_codes_as_the_code_has_them():
    assert remedies_markdown() in README.read_text(encoding="utf-8"), (
        "run `koppel error_codes` into README.md"
    )
