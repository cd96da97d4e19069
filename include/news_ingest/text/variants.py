"""Spellings of transliterated names that nobody listed: a phonetic skeleton and a bounded cost.

Arabic writers render foreign names freely: long vowels (ا و ي) written or left out, a doubled
letter written once, one sound given several letters (g/q/k as غ ق ك ج, kh as خ or غ), ة / ه /
ا at the end of a part, parts joined, spaced or hyphenated, clitics in front. Latin and
Cyrillic spellings vary the same way (Karabakh, Karabagh, Qarabağ, Garabagh; Карабаха,
Карабахом).

A name's *skeleton* keeps only what those variations leave alone: the consonants, each folded
to its sound class, with doubled letters collapsed and vowel letters dropped. A run of one to
a few text tokens whose skeleton equals a listed spelling's is a candidate; it is accepted
only when the text is close to that spelling in a weighted edit distance in which the cheap
edits are exactly the variations above (0.5 each) and anything else costs 1. The bound (1.0,
1.5 for long names) stops short words that share a skeleton by chance (قربك "near you" has
the skeleton of قراباغ but three edits from it). Names whose skeleton has fewer than
``MIN_SKELETON`` consonants match exactly only: too many words share a short skeleton.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from news_ingest.text import arabic
from news_ingest.text.matching import Occurrence

__all__ = [
    "MIN_SKELETON",
    "NameMatcher",
    "VariantHit",
    "distance",
    "keys",
    "skeleton",
]

MIN_SKELETON = 4
CHEAP = 0.5
# Any edit that is not one of the variations: more than a short name's bound, so such an
# edit is allowed only in a long name, and only alone.
COSTLY = 1.5
MAX_RUN_EXTRA = 1  # a name of n parts may be written as up to n + 1 tokens (قارا با غ)
# A token after the first of a run must carry two consonants: a particle (كي، قد) must not
# complete a name's skeleton (قرابة كي has the skeleton of قراباغ).
MIN_PART_SKELETON = 2
MIN_CLITIC_STEM = 4


def _classes(groups: dict[str, str]) -> dict[str, str]:
    return {char: key for key, chars in groups.items() for char in chars}


# One key per sound: the letters a transliteration may pick for it.
_ARABIC_CLASSES = _classes(
    {
        "K": "قكغجگخڭ",
        "S": "سصث",
        "Z": "زذظ",
        "T": "تط",
        "D": "دض",
        "B": "بپ",
        "F": "فڤ",
        "H": "حه",
    }
)
_ARABIC_VOWELS = frozenset("اويىءع")
# Which of the K letters stand for one foreign sound: g/q/k (غ ق ك ج گ) or kh (خ غ ك ق).
# A swap inside one of these is a variant; خ for ج is not (كرباج, a whip, is no Karabakh).
_ARABIC_SOUNDS = ("قكغجگڭ", "خغكق", "سصث", "زذظ", "تط", "دض", "بپ", "فڤ", "حه")
_LATIN_CLASSES = _classes({"K": "kgqcx", "S": "sšş", "Z": "zj", "B": "bp", "F": "fvw"})
_LATIN_DIGRAPHS = (("kh", "k"), ("gh", "g"), ("sh", "s"), ("ch", "s"), ("ph", "f"))
_LATIN_VOWELS = frozenset("aeiouyh")
_CYRILLIC_CLASSES = _classes({"K": "кгх", "S": "сш", "Z": "зж", "B": "бп", "F": "фв"})
_CYRILLIC_VOWELS = frozenset("аеиоуыэюяйьъ")
# Case endings, longest first; cut only where a stem of MIN_SKELETON letters stays.
_CYRILLIC_ENDINGS = ("ами", "ями", "ого", "ому", "ом", "ем", "ой", "ей", "ою", *"аеуюыия")


def _pairs(groups: Iterable[str]) -> frozenset[tuple[str, str]]:
    return frozenset((a, b) for group in groups for a in group for b in group if a != b)


def _class_groups(classes: dict[str, str]) -> list[str]:
    groups: dict[str, str] = {}
    for char, key in classes.items():
        groups[key] = groups.get(key, "") + char
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class _Script:
    # The skeleton's classes: coarse, one key per letter, to find candidates.
    classes: dict[str, str]
    vowels: frozenset[str]
    # Letters a spelling writes or leaves out freely. Arabic long vowels are such letters;
    # Latin and Cyrillic vowels are not (Karabük is not Karabakh), their h and soft signs are.
    optional: frozenset[str]
    # Letter swaps that are a variant of one sound: finer than the classes.
    swaps: frozenset[tuple[str, str]]


_ARABIC = _Script(_ARABIC_CLASSES, _ARABIC_VOWELS, _ARABIC_VOWELS, _pairs(_ARABIC_SOUNDS))
_LATIN = _Script(
    _LATIN_CLASSES, _LATIN_VOWELS, frozenset("h"), _pairs(_class_groups(_LATIN_CLASSES))
)
_CYRILLIC = _Script(
    _CYRILLIC_CLASSES,
    _CYRILLIC_VOWELS,
    frozenset("ьъй"),
    _pairs(_class_groups(_CYRILLIC_CLASSES)),
)


def _script(word: str) -> _Script:
    for char in word:
        if "\u0600" <= char <= "\u06ff":
            return _ARABIC
        if "\u0400" <= char <= "\u04ff":
            return _CYRILLIC
    return _LATIN


@lru_cache(maxsize=65536)
def spelling(token: str) -> str:
    """The token as the skeleton and the distance read it: Latin without accents and digraphs,
    Cyrillic without its case ending, Arabic part-final ه (taa marbuta) as a vowel ا."""
    script = _script(token)
    if script is _LATIN:
        plain = "".join(
            c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c)
        )
        plain = plain.replace("ı", "i").replace("ə", "e")
        for digraph, letter in _LATIN_DIGRAPHS:
            plain = plain.replace(digraph, letter)
        return plain
    if script is _CYRILLIC:
        for ending in _CYRILLIC_ENDINGS:
            if token.endswith(ending) and len(token) - len(ending) >= MIN_SKELETON:
                return token[: -len(ending)]
        return token
    return token[:-1] + "ا" if token.endswith("ه") and len(token) > 2 else token


def _consonants(word: str, script: _Script) -> str:
    out: list[str] = []
    previous = ""
    for char in word:
        if char == previous:
            continue  # a doubled letter written once
        previous = char
        if char not in script.vowels:
            out.append(script.classes.get(char, char))
    return "".join(out)


@lru_cache(maxsize=65536)
def skeleton(token: str) -> str:
    """Sound classes of the consonants of one normalised token (see the module docstring)."""
    return _consonants(spelling(token), _script(token))


def _cost(a: str, b: str, script: _Script) -> float:
    if a == b:
        return 0.0
    return CHEAP if (a, b) in script.swaps else COSTLY


@lru_cache(maxsize=65536)
def distance(text: str, name: str) -> float:
    """Weighted edit distance: optional letters in or out, one sound's letters, doubling: 0.5;
    a Latin or Cyrillic vowel in or out: 1; anything else: COSTLY."""
    script = _script(name)

    def indel(word: str, i: int) -> float:
        char = word[i]
        if char in script.optional or (i > 0 and word[i - 1] == char):
            return CHEAP
        return 1.0 if char in script.vowels else COSTLY

    row = [0.0]
    for j in range(len(name)):
        row.append(row[-1] + indel(name, j))
    for i in range(len(text)):
        new = [row[0] + indel(text, i)]
        for j in range(len(name)):
            new.append(
                min(
                    row[j] + _cost(text[i], name[j], script),
                    row[j + 1] + indel(text, i),
                    new[j] + indel(name, j),
                )
            )
        row = new
    return row[-1]


def bound(name: str) -> float:
    return 1.5 if len(name) >= 8 else 1.0


@dataclass(frozen=True, slots=True)
class _Name:
    phrase: str
    language: str
    # The listed spelling as the distance reads it: parts read alone then joined (قرا+باغ),
    # and read joined (قرهباغ).
    forms: tuple[str, str]
    parts: int


@dataclass(frozen=True, slots=True)
class VariantHit(Occurrence):
    """A run of tokens read as a listed name (``phrase``); ``rule`` says why."""

    phrase: str
    language: str
    cost: float
    key: str

    @property
    def rule(self) -> str:
        return (
            f"spelling variant: same sound skeleton '{self.key}' as '{self.phrase}', "
            f"variation cost {self.cost:g} (at most {bound(_joined_form(self.phrase)):g})"
        )


def keys(phrase: str) -> frozenset[str]:
    """The skeletons a name is looked up by: its parts spaced, and joined."""
    parts = arabic.tokens(phrase)
    return frozenset({"".join(skeleton(p) for p in parts), skeleton("".join(parts))})


def _joined_form(phrase: str) -> str:
    return "".join(spelling(part) for part in arabic.tokens(phrase))


class NameMatcher:
    """Finds spelling variants of transliterated names in text; see the module docstring.

    ``names`` are (phrase, language) pairs; a name whose skeleton is too short is refused with
    a ValueError naming it (list it as a plain term instead).
    """

    def __init__(self, names: Iterable[tuple[str, str]]) -> None:
        self.names: list[_Name] = []
        self._index: dict[str, list[int]] = {}
        for phrase, language in names:
            parts = arabic.tokens(phrase)
            name_keys = keys(phrase)
            if min(len(key) for key in name_keys) < MIN_SKELETON:
                raise ValueError(
                    f"name '{phrase}' is too short for variant matching (fewer than "
                    f"{MIN_SKELETON} consonants): list it under terms instead"
                )
            forms = (_joined_form(phrase), spelling("".join(parts)))
            self.names.append(_Name(phrase, language, forms, len(parts)))
            for key in name_keys:
                self._index.setdefault(key, []).append(len(self.names) - 1)
        self._longest = max((name.parts for name in self.names), default=0) + MAX_RUN_EXTRA
        # Most tokens start no name: one set lookup rejects them.
        self._prefixes = {key[:n] for key in self._index for n in range(1, len(key) + 1)}

    def find(self, text: str) -> list[VariantHit]:
        """Leftmost, longest, non-overlapping variant occurrences, in text order."""
        if not self.names:
            return []
        spans = arabic.token_spans(text)
        hits: list[VariantHit] = []
        position = 0
        while position < len(spans):
            hit = self._best_at(spans, position)
            if hit is None:
                position += 1
            else:
                hits.append(hit)
                position = hit.last
        return hits

    def _best_at(self, spans: Sequence[arabic.Token], position: int) -> VariantHit | None:
        best: VariantHit | None = None
        for proclitic, head in _readings(spans[position].text):
            words = [head]
            for last in range(position + 1, min(len(spans), position + self._longest) + 1):
                if last > position + 1:
                    if len(skeleton(spans[last - 1].text)) < MIN_PART_SKELETON:
                        break
                    words.append(spans[last - 1].text)
                key = "".join(skeleton(word) for word in words)
                if key not in self._prefixes:
                    break
                for index in self._index.get(key, ()):
                    name = self.names[index]
                    form = "".join(spelling(word) for word in words)
                    cost = min(distance(form, listed) for listed in name.forms)
                    if cost > bound(name.forms[0]):
                        continue
                    candidate = VariantHit(
                        phrase=name.phrase,
                        language=name.language,
                        first=position,
                        last=last,
                        start=spans[position].start,
                        end=spans[last - 1].end,
                        normalized=" ".join(span.text for span in spans[position:last]),
                        proclitic=proclitic,
                        cost=cost,
                        key=key,
                    )
                    if best is None or (candidate.last, -candidate.cost) > (best.last, -best.cost):
                        best = candidate
        return best


@lru_cache(maxsize=65536)
def _readings(token: str) -> tuple[tuple[str, str], ...]:
    """(proclitic, rest) readings of a token: itself, and each Arabic proclitic stripped."""
    readings = [("", token)]
    for proclitic in arabic.ARTICLE_PROCLITICS + arabic.BARE_PROCLITICS:
        rest = token[len(proclitic) :]
        if token.startswith(proclitic) and len(rest) >= MIN_CLITIC_STEM:
            readings.append((proclitic, rest))
    return tuple(readings)
