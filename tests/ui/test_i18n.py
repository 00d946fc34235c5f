"""Every language has every text, with the same placeholders; pages hold no hard-coded text."""

from __future__ import annotations

import pytest

from lensfinder_nb.i18n import LANGUAGES, Translator, catalogue, placeholders


def test_languages_have_the_same_keys_and_placeholders():
    en = catalogue("en")
    for lang in LANGUAGES:
        other = catalogue(lang)
        assert set(other) == set(en), f"{lang}: missing {set(en) - set(other)}, extra {set(other) - set(en)}"
        for key, text in en.items():
            assert placeholders(other[key]) == placeholders(text), (lang, key)


def test_translator_formats_and_refuses_unknown_keys():
    assert Translator("zh")("signin.signed_in_as", name="X") == "已登录：<b>X</b>"
    assert Translator("xx").lang == "en"
    with pytest.raises(KeyError):
        Translator("en")("no.such.key")
