from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from news_ingest.text.arabic import normalize, proclitic_forms, token_spans, tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Hamza seats and wasla.
        ("أحمد إبراهيم آمن ٱلله", "احمد ابراهيم امن الله"),
        ("مسؤول مسئول", "مسوول مسيول"),
        # Standalone hamza stays, so short words do not merge.
        ("ماء جزء", "ماء جزء"),
        # Taa marbuta, alef maqsura, Persian yeh and keheh.
        ("مدرسة مستشفى فارسی کتاب", "مدرسه مستشفي فارسي كتاب"),
        # Tashkeel, shadda, sukun, tanwin, superscript alef, tatweel.
        ("مُحَمَّدٌ يَكْتُبُ كِتَابًا هٰذا", "محمد يكتب كتابا هذا"),
        ("قــــره بـاغ", "قره باغ"),
        # Digits.
        ("١٠ أكتوبر ۲۰۲۰", "10 اكتوبر 2020"),
        ("٣٫٥٪", "3.5%"),
        # Arabic punctuation and dashes separate words.
        ("قره باغ، أرمينيا؛ لماذا؟", "قره باغ ارمينيا لماذا"),
        ("ناغورني-قره باغ ناغورني–قره", "ناغورني قره باغ ناغورني قره"),
        # ZWNJ (Persian-style compound) is a word break; other invisibles vanish.
        ("قره\u200cباغ", "قره باغ"),
        ("قره\u200fباغ\u00ad", "قرهباغ"),
        # Presentation forms and ligatures.
        ("ﻻ ﷲ", "لا الله"),
        # Latin and Cyrillic casefold, ё -> е (precomposed or not).
        ("Nagorno-KARABAKH Straße", "nagorno karabakh strasse"),
        ("Ёлка ЁЖ е\u0308ж", "елка еж еж"),
        # Whitespace collapses.
        ("  قره \n\t باغ  ", "قره باغ"),
    ],
)
def test_normalize_examples(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@given(st.text())
def test_normalize_is_idempotent_and_total(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


# Characters of the scripts the pipeline reads, plus the marks, digits and punctuation that
# normalisation touches: dense enough for hypothesis to combine them in awkward ways.
_SCRIPT_TEXT = st.text(
    alphabet=st.sampled_from(
        list("ابتةثجحخدذرزسشصضطظعغفقكلمنهويءأإآؤئىٱ")
        + list("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0654\u0640")
        + list("٠١٢٣٤٥٦٧٨٩۰۱۲۳٫،؛؟")
        + list("abcKZéÉёЁкаРх\u0301\u0308")
        + list(" -–—\u200c\u200d\u200f\u00ad\n.«»\"'")
    )
)


@given(_SCRIPT_TEXT)
def test_normalize_is_idempotent_on_arabic_script_text(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text())
def test_token_spans_point_back_into_the_original_text(text: str) -> None:
    previous_start = 0
    for token, start, end in token_spans(text):
        assert 0 <= previous_start <= start < end <= len(text)
        assert token in tokens(text[start:end])
        assert token == normalize(token)
        previous_start = start


@given(_SCRIPT_TEXT)
def test_tokens_do_not_change_when_the_text_is_normalised_first(text: str) -> None:
    assert tokens(normalize(text)) == tokens(text)


def test_token_spans_give_original_offsets() -> None:
    text = "قال: «وَقَرَهْ باغ» و ناغورني-قره"
    spans = token_spans(text)
    assert [token.text for token in spans] == ["قال", "وقره", "باغ", "و", "ناغورني", "قره"]
    assert text[spans[1].start : spans[1].end] == "وَقَرَهْ"
    assert text[spans[4].start : spans[4].end] == "ناغورني"


@pytest.mark.parametrize(
    ("token", "word", "phrase_initial", "proclitic"),
    [
        ("كاراباخ", "كاراباخ", False, ""),
        ("بكاراباخ", "كاراباخ", False, "ب"),
        ("وبكاراباخ", "كاراباخ", False, "وب"),
        ("الكاراباخ", "كاراباخ", False, "ال"),
        ("للكاراباخ", "كاراباخ", False, "لل"),
        # A word with the article: the article forms replace it, bare proclitics precede it.
        ("والارهاب", "الارهاب", False, "و"),
        ("للارهاب", "الارهاب", False, "لل"),
        ("بالارهاب", "الارهاب", False, "ب"),
        # An article that is part of the name (ألبانيا): ل is written before it.
        ("لالبانيا", "البانيا", False, "ل"),
        # Three letters: only the article forms, except first in a phrase.
        ("النفط", "نفط", False, "ال"),
        ("وقره", "قره", True, "و"),
        ("لقره", "قره", True, "ل"),
    ],
)
def test_allowed_proclitics(token: str, word: str, phrase_initial: bool, proclitic: str) -> None:
    assert proclitic_forms(word, phrase_initial=phrase_initial).get(token) == proclitic


@pytest.mark.parametrize(
    ("token", "word", "phrase_initial"),
    [
        # Ordinary words that read as a proclitic + a term.
        ("بطاقه", "طاقه", False),  # card, not "by energy"
        ("فكره", "كره", True),  # idea, not "and-so ball"
        ("بقره", "قره", True),  # cow
        ("فقره", "قره", True),  # paragraph
        ("كامل", "امل", True),  # complete, not "like hope"
        # Three-letter words take no bare proclitic outside a phrase.
        ("ونفط", "نفط", False),
        ("وحده", "حده", False),
        # Two letters take none at all.
        ("الحر", "حر", False),
        # The article of a definite term is required.
        ("ارهاب", "الارهاب", False),
        # Only Arabic words take proclitics.
        ("lkarabakh", "karabakh", False),
        ("вкарабах", "карабах", False),
        # A proclitic is not a suffix.
        ("كاراباخي", "كاراباخ", False),
    ],
)
def test_rejected_proclitics(token: str, word: str, phrase_initial: bool) -> None:
    assert token not in proclitic_forms(word, phrase_initial=phrase_initial)


def test_proclitic_forms_include_the_word_itself() -> None:
    assert proclitic_forms("طاقه")["طاقه"] == ""
    assert proclitic_forms("بطاقه")["بطاقه"] == ""
