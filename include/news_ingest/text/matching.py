"""Whole-word phrase matching over normalised tokens: the one matcher behind topic tagging and
watchlists, so a term means the same thing wherever it is configured.

A term is a phrase of one or more words, normalised by ``arabic.normalize``. It matches a run
of consecutive tokens when every word equals its token, except that the first word may carry
Arabic proclitics (``arabic.proclitic_forms``) and a word written with a trailing ``*`` matches
any token it starts (for case endings: ``Карабах*`` matches Карабаха, Карабахе). Terms are
compiled once into a dictionary keyed by every accepted spelling of their first word, so a
text costs one lookup per token.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from news_ingest.text import arabic

__all__ = ["MIN_WILDCARD_STEM", "Hit", "Occurrence", "PhraseMatcher", "Term"]

Payload = TypeVar("Payload")

WILDCARD = "*"
MIN_WILDCARD_STEM = 4


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    wildcard: bool

    def accepts(self, token: str) -> bool:
        return token.startswith(self.text) if self.wildcard else token == self.text


@dataclass(frozen=True, slots=True)
class Term(Generic[Payload]):
    """A compiled term: the phrase as configured, its normalised words and the caller's data."""

    phrase: str
    words: tuple[_Word, ...]
    payload: Payload

    @property
    def normalized(self) -> str:
        return " ".join(word.text + (WILDCARD if word.wildcard else "") for word in self.words)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where a match is: token range ``[first, last)`` and source offsets ``[start, end)``.

    ``normalized`` is the matched tokens as normalised; ``proclitic`` is what was stripped from
    the first token to read the term ("" when nothing was).
    """

    first: int
    last: int
    start: int
    end: int
    normalized: str
    proclitic: str

    def overlaps(self, other: Occurrence) -> bool:
        return self.first < other.last and other.first < self.last


@dataclass(frozen=True, slots=True)
class Hit(Occurrence, Generic[Payload]):
    """One occurrence of a configured term."""

    term: Term[Payload]


@dataclass(frozen=True, slots=True)
class _Entry:
    term_index: int
    proclitic: str


def _compile_words(phrase: str) -> tuple[_Word, ...]:
    words: list[_Word] = []
    for chunk in arabic.normalize(phrase).split():
        stem = chunk.removesuffix(WILDCARD)
        wildcard = stem != chunk
        parts = arabic.tokens(stem)
        if WILDCARD in stem or (
            wildcard
            and (not parts or len(parts[-1]) < MIN_WILDCARD_STEM or not stem.endswith(parts[-1]))
        ):
            raise ValueError(
                f"term '{phrase}': '*' may only end a word of at least {MIN_WILDCARD_STEM} "
                "letters (a shorter stem matches unrelated words)"
            )
        last = len(parts) - 1
        words.extend(_Word(part, wildcard and i == last) for i, part in enumerate(parts))
    if not words:
        raise ValueError(f"term '{phrase}' has no letters or digits to match")
    return tuple(words)


class PhraseMatcher(Generic[Payload]):
    """Finds configured terms in text: leftmost, longest and non-overlapping occurrences.

    Raises ValueError naming the term when a term has nothing to match, a wildcard is misused,
    or two terms are the same once normalised (one of them can never be reported).
    """

    def __init__(self, terms: Iterable[tuple[str, Payload]]) -> None:
        self.terms: tuple[Term[Payload], ...] = tuple(
            Term(phrase, _compile_words(phrase), payload) for phrase, payload in terms
        )
        self._exact: dict[str, list[_Entry]] = {}
        self._prefix: dict[str, list[_Entry]] = {}
        seen: dict[tuple[_Word, ...], str] = {}
        for index, term in enumerate(self.terms):
            if term.words in seen:
                raise ValueError(
                    f"term '{term.phrase}' is the same as '{seen[term.words]}' once normalised "
                    f"('{term.normalized}'); keep one of them"
                )
            seen[term.words] = term.phrase
            first = term.words[0]
            index_for_first = self._prefix if first.wildcard else self._exact
            forms = arabic.proclitic_forms(first.text, phrase_initial=len(term.words) > 1)
            for form, proclitic in forms.items():
                index_for_first.setdefault(form, []).append(_Entry(index, proclitic))
        self._prefix_lengths = sorted({len(form) for form in self._prefix})
        self._shortest_prefix = self._prefix_lengths[0] if self._prefix_lengths else 0
        self._prefix_heads = {form[: self._shortest_prefix] for form in self._prefix}

    def find(self, text: str) -> list[Hit[Payload]]:
        """Occurrences of the terms in ``text``, in text order.

        At each token the longest term starting there wins (ties: exact before wildcard, then
        the first configured) and scanning resumes after it: "ناغورني قره باغ" is one hit, not
        also "قره باغ".
        """
        spans = arabic.token_spans(text)
        hits: list[Hit[Payload]] = []
        resume = 0
        for position in self._possible_starts(spans):
            hit = None if position < resume else self._longest_at(spans, position)
            if hit is not None:
                hits.append(hit)
                resume = hit.last
        return hits

    def _possible_starts(self, spans: Sequence[arabic.Token]) -> list[int]:
        # One set lookup per token in a comprehension: most tokens start no term, and this
        # keeps the per-token cost of an article scan low for every watchlist and topic.
        heads, cut = self._prefix_heads, self._shortest_prefix
        return [
            position
            for position, span in enumerate(spans)
            if span.text in self._exact or span.text[:cut] in heads
        ]

    def _candidates(self, token: str) -> list[_Entry]:
        found = list(self._exact.get(token, ()))
        for length in self._prefix_lengths:
            if length > len(token):
                break
            found.extend(self._prefix.get(token[:length], ()))
        return found

    def _longest_at(self, spans: Sequence[arabic.Token], position: int) -> Hit[Payload] | None:
        best: Hit[Payload] | None = None
        for entry in self._candidates(spans[position].text):
            term = self.terms[entry.term_index]
            last = position + len(term.words)
            if last > len(spans) or (best is not None and last <= best.last):
                continue
            following = zip(term.words[1:], spans[position + 1 : last], strict=True)
            if all(word.accepts(span.text) for word, span in following):
                best = Hit(
                    term=term,
                    first=position,
                    last=last,
                    start=spans[position].start,
                    end=spans[last - 1].end,
                    normalized=" ".join(span.text for span in spans[position:last]),
                    proclitic=entry.proclitic,
                )
        return best
