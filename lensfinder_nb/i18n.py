"""User-visible text: one catalogue per language, split into a JSON file per page.

``locales/<lang>/<part>.json`` hold flat ``{"key": "text with {placeholders}"}`` maps; all
parts of a language are merged into one catalogue.  Pages never hard-code text: they call
``t("key", **values)``.  A test checks that every language has the same keys and the same
placeholders.
"""

from __future__ import annotations

import functools
import json
import string
from importlib import resources

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "catalogue", "Translator", "placeholders"]

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """All texts of ``lang`` (merged over its part files)."""
    if lang not in LANGUAGES:
        raise KeyError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    merged: dict[str, str] = {}
    folder = resources.files("lensfinder_nb") / "locales" / lang
    for part in sorted(folder.iterdir(), key=lambda p: p.name):
        if part.name.endswith(".json"):
            for key, text in json.loads(part.read_text(encoding="utf-8")).items():
                if key in merged:
                    raise ValueError(f"{lang}: key {key!r} defined twice (second in {part.name})")
                merged[key] = text
    return merged


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Translator:
    """``t = Translator("zh"); t("vote.lens")``; falls back to English for a missing key."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE

    def __call__(self, key: str, **values: object) -> str:
        text = catalogue(self.lang).get(key)
        if text is None:
            text = catalogue(DEFAULT_LANGUAGE)[key]  # KeyError: a missing key is a bug
        return text.format(**values) if values else text
