"""Cross-language links (pure): one event told by one publisher in two languages.

No translation model is needed for the evidence that survives translation: the figures of
an event (casualties, sums, distances, dates) and the names that the topic taxonomy and the
watchlists fold to one id in every language ("قره باغ" and "Karabakh" both hit ``karabakh``).
Two articles of one publisher in different languages, published within a few hours, that
share at least ``min_numbers`` such figures and ``min_concepts`` such ids are linked, and the
link keeps its evidence. Years are left out of the figures: every Karabakh story names 2020.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from news_ingest.text.arabic import normalize

# A figure: digits grouped in thousands (by comma, dot or space: "1,960", "1.960", "1 960"),
# or digits with one decimal separator. Read from the text before folding, which would
# split "78.4" into two words.
_FIGURE = re.compile(r"\d{1,3}(?:[ ,.]\d{3})+(?!\d)|\d+(?:[.,]\d+)?")
_BARE_FOUR_DIGITS = re.compile(r"\d{4}")
MIN_DIGITS = 2
# A bare four-digit number this close to the article's year reads as a year ("the 2020
# war"); farther off it is a count, as Arabic writes "1960 عسكريا" without a separator.
YEARS_BACK, YEARS_AHEAD = 30, 5


def figures(text: str, year: int) -> frozenset[str]:
    """The figures of a text written in ``year`` that can tie two tellings of one event
    together: two digits or more, separators dropped (languages write "1,960", "1.960" and
    "1 960" for one figure, and "78.4" or "78,4"), Eastern digits read as Western ones,
    years left out."""
    found = set()
    for match in _FIGURE.finditer(normalize(text)):
        written = match.group()
        if _BARE_FOUR_DIGITS.fullmatch(written) and (
            year - YEARS_BACK <= int(written) <= year + YEARS_AHEAD
        ):
            continue
        digits = re.sub(r"[ ,.]", "", written).lstrip("0")
        if len(digits) >= MIN_DIGITS:
            found.add(digits)
    return frozenset(found)


def article_figures(doc: Mapping[str, Any], year: int) -> list[str]:
    """The ``figures`` field of an article written in ``year``, from its title, lede and
    body."""
    text = " ".join(doc.get(name) or "" for name in ("title", "lede", "body"))
    return sorted(figures(text, year))


@dataclass(frozen=True)
class Telling:
    """An article as cross-language linking sees it."""

    id: str
    story_id: str
    source: str
    language: str
    seen_at: datetime
    figures: frozenset[str]
    concepts: frozenset[str]  # "topic:<id>" and "watchlist:<id>"


def concepts(doc: Mapping[str, Any]) -> frozenset[str]:
    """The language-independent ids an article's names folded to."""
    return frozenset(
        [f"topic:{t}" for t in doc.get("topics") or []]
        + [f"watchlist:{w}" for w in doc.get("watchlists") or []]
    )


@dataclass(frozen=True)
class Link:
    article_id: str
    other_id: str
    other_story_id: str
    other_language: str
    figures: tuple[str, ...]
    concepts: tuple[str, ...]
    hours_apart: float

    def as_field(self) -> dict[str, Any]:
        """One entry of an article's ``cross_lingual`` field."""
        return {
            "article_id": self.other_id,
            "story_id": self.other_story_id,
            "language": self.other_language,
            "figures": list(self.figures),
            "concepts": list(self.concepts),
            "hours_apart": self.hours_apart,
        }


def evidence(
    a: Telling,
    b: Telling,
    *,
    same_publisher: bool,
    window: timedelta,
    min_figures: int = 2,
    min_concepts: int = 1,
) -> Link | None:
    """The link from ``a`` to ``b`` if the evidence holds, else None."""
    apart = abs(a.seen_at - b.seen_at)
    if not same_publisher or a.language == b.language or apart > window:
        return None
    shared_figures = a.figures & b.figures
    shared_concepts = a.concepts & b.concepts
    if len(shared_figures) < min_figures or len(shared_concepts) < min_concepts:
        return None
    return Link(
        article_id=a.id,
        other_id=b.id,
        other_story_id=b.story_id,
        other_language=b.language,
        figures=tuple(sorted(shared_figures)),
        concepts=tuple(sorted(shared_concepts)),
        hours_apart=round(apart.total_seconds() / 3600, 2),
    )


def links(
    batch: Sequence[Telling],
    known: Iterable[Telling],
    publisher_of: Mapping[str, str],
    *,
    window: timedelta,
    min_figures: int = 2,
) -> dict[str, list[Link]]:
    """Each batch article's best link per other language (most shared figures, then the
    nearest in time), to known articles and to the batch's earlier ones."""
    pool = list(known)
    result: dict[str, list[Link]] = {}
    for article in sorted(batch, key=lambda t: (t.seen_at, t.id)):
        best: dict[str, Link] = {}
        for other in pool:
            if other.id == article.id:
                continue
            same = publisher_of.get(article.source, article.source) == publisher_of.get(
                other.source, other.source
            )
            link = evidence(
                article, other, same_publisher=same, window=window, min_figures=min_figures
            )
            current = best.get(other.language)
            if link is not None and (
                current is None
                or (len(link.figures), -link.hours_apart)
                > (len(current.figures), -current.hours_apart)
            ):
                best[other.language] = link
        if best:
            result[article.id] = [best[language] for language in sorted(best)]
        pool.append(article)
    return result
