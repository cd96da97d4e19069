"""Arabic-aware text normalisation and tokenisation: the one place that decides when two
spellings are the same word.

Topic tagging, watchlists and the search query layer all call this module, so a spelling that
matches in one of them matches in all. ``normalize`` folds the variation Arabic news text shows
for one word (hamza seats, taa marbuta, alef maqsura, tashkeel, tatweel, Eastern digits) and
casefolds Latin and Cyrillic; ``token_spans`` cuts text into normalised words that still point
at the original text; ``proclitic_forms`` lists the clitic-bearing spellings of a term word that
whole-word matching accepts (و ب ل ال ...).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "ARTICLE_PROCLITICS",
    "BARE_PROCLITICS",
    "Token",
    "normalize",
    "proclitic_forms",
    "token_spans",
    "tokens",
]


def _chars(*ranges: tuple[int, int]) -> str:
    return "".join(chr(code) for low, high in ranges for code in range(low, high + 1))


# Tashkeel, Quranic annotation signs and the combining hamza/madda: they never change which
# word is meant, and writers use them inconsistently.
_ARABIC_MARKS = "".join(
    char
    for char in _chars((0x0610, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF))
    if unicodedata.category(char) == "Mn"
)
# Invisible format characters that web pages leave inside words (soft hyphen, bidi controls,
# zero-width joiner, BOM, Arabic number signs). ZWNJ is not here: it becomes a space, see below.
_INVISIBLE = _chars(
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200D, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
)
_TATWEEL = "\u0640"
# A combining diaraesis left over after NFKC sits on a letter without a precomposed form; it is
# dropped so that "ё" written as е + U+0308 folds to е like the precomposed ё, and so that no
# later composition can bring an ё back (which would break idempotence).
_COMBINING_DIAERESIS = "\u0308"
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"
# Arabic punctuation separates words exactly like a space. ZWNJ does too: Persian-style
# spellings write compound names with it (قره‌باغ), and readers see two words.
_WORD_SEPARATORS = "\u060c\u060d\u061b\u061f\u06d4\u200c" + _DASHES

_LETTER_FOLDS = {
    # Hamza seats and wasla collapse onto the bare letter: writers drop or move the hamza
    # freely (أحمد / احمد, مسؤول / مسئول).
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ٲ": "ا",
    "ٳ": "ا",
    "ؤ": "و",
    "ئ": "ي",
    # A standalone hamza stays a letter: dropping it would merge short words (ماء / ما,
    # جزء / جز, بدء / بد). The high hamza is the same letter in another glyph.
    "ٴ": "ء",
    "ى": "ي",
    "ی": "ي",  # Persian yeh, from Persian keyboards
    "ک": "ك",  # Persian keheh
    "ة": "ه",
    "ۃ": "ه",
    "ە": "ه",
    "ۀ": "ه",
    "ھ": "ه",
    "ё": "е",
    "٫": ".",  # Arabic decimal separator: ٣٫٥ reads 3.5
    "٬": ",",
    "٪": "%",
}

_FOLD_TABLE: dict[int, str | None] = {
    **{ord(char): None for char in _ARABIC_MARKS + _INVISIBLE + _TATWEEL + _COMBINING_DIAERESIS},
    **{ord(char): " " for char in _WORD_SEPARATORS},
    **{ord(char): str(value) for value, char in enumerate("٠١٢٣٤٥٦٧٨٩")},
    **{ord(char): str(value) for value, char in enumerate("۰۱۲۳۴۵۶۷۸۹")},
    **{ord(source): target for source, target in _LETTER_FOLDS.items()},
}


def normalize(text: str) -> str:
    """Fold ``text`` to the form every comparison uses; ``normalize(normalize(t)) == normalize(t)``.

    NFKC first resolves presentation forms and ligatures (ﻻ, ﷲ) and full-width characters;
    casefolding precedes the Arabic folds so the fold table sees lower-case Cyrillic only; the
    second NFKC recomposes Latin letters whose marks were separated by a removed character.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD_TABLE)
    return " ".join(unicodedata.normalize("NFKC", folded).split())


class Token(NamedTuple):
    """A normalised word and the ``[start, end)`` offsets of its source in the original text."""

    text: str
    start: int
    end: int


# A word in the original text: letters and digits plus everything ``normalize`` deletes or that
# combines with a letter, so harakat, tatweel or a bidi mark never split a word.
_WORD_CHARS = (
    r"\w"
    + re.escape(_ARABIC_MARKS + _INVISIBLE + _COMBINING_DIAERESIS)
    + "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
_WORD = re.compile(f"[{_WORD_CHARS}]+")


@lru_cache(maxsize=32)
def token_spans(text: str) -> tuple[Token, ...]:
    """Normalised words of ``text``, each with the offsets of the original word it came from.

    Cached (a few texts: one article's fields) because every watchlist and topic scans the same
    article text. One original word can yield several tokens (ﷺ is four words); they share its
    span.
    """
    return tuple(
        Token(word, match.start(), match.end())
        for match in _WORD.finditer(text)
        for word in _WORD.findall(_normalize_word(match.group()))
    )


@lru_cache(maxsize=16384)
def _normalize_word(word: str) -> str:
    # News text repeats its words; caching them saves about 40% of tokenising time.
    return normalize(word)


def tokens(text: str) -> list[str]:
    """The normalised words of ``text``, in order."""
    return [token.text for token in token_spans(text)]


# Proclitics, normalised. Article forms carry the definite article; ل + ال is written لل.
ARTICLE_PROCLITICS = (
    "ال",
    "وال",
    "فال",
    "بال",
    "كال",
    "لل",
    "وبال",
    "فبال",
    "وكال",
    "فكال",
    "ولل",
    "فلل",
)
BARE_PROCLITICS = ("و", "ف", "ب", "ل", "ك", "وب", "فب", "ول", "فل", "وك", "فك")

# Ordinary words that read as a proclitic plus a plausible term (بطاقة = ب + طاقة "energy",
# فكرة = ف + كرة "ball"). Never accepted as a clitic form; extend when a false hit shows up.
_CLITIC_LOOKALIKES = frozenset(
    normalize(word)
    for word in (
        "بطاقة",
        "بحرية",
        "بقرة",
        "فقرة",
        "بكرة",
        "فكرة",
        "لجنة",
        "كامل",
        "كمال",
    )
)
# Shorter words take no proclitic of that kind: attaching one makes ordinary words too often
# (و + 3 letters is وحده، وجبه، ورقه ...). Article forms count the letters after the word's own
# article. The first word of a multi-word phrase may be one letter shorter, since the words
# after it must match too.
_MIN_STEM_FOR_ARTICLE = 3
_MIN_STEM_FOR_BARE = 4
_ARABIC_LETTER = re.compile("[\u0621-\u064a]")


def proclitic_forms(word: str, *, phrase_initial: bool = False) -> dict[str, str]:
    """Spellings of the normalised term word ``word`` that whole-word matching accepts.

    Maps each accepted token to the proclitic stripped to read ``word`` ("" for ``word``
    itself; لل for ل + ال, which replaces the article of a definite word). Only Arabic
    words take proclitics. A word starting with ال accepts the article forms in its place
    (الإرهاب: للإرهاب، بالإرهاب) and bare proclitics before it (ألبانيا: لألبانيا); any other
    word accepts both kinds before it (إرهاب: وإرهاب، الإرهاب). ``phrase_initial`` marks the
    first word of a multi-word phrase, which may be one letter shorter.
    """
    if not _ARABIC_LETTER.match(word):
        return {word: ""}
    forms: dict[str, str] = {}
    has_article = word.startswith("ال")
    stem = word[2:] if has_article else word
    bare_minimum = _MIN_STEM_FOR_BARE - (1 if phrase_initial else 0)
    if len(stem) >= _MIN_STEM_FOR_ARTICLE:
        forms.update((prefix + stem, prefix) for prefix in ARTICLE_PROCLITICS)
    if len(word) >= bare_minimum:
        forms.update((prefix + word, prefix) for prefix in BARE_PROCLITICS)
    accepted = {form: prefix for form, prefix in forms.items() if form not in _CLITIC_LOOKALIKES}
    accepted[word] = ""
    return accepted
