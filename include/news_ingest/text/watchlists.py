"""Watchlists (``watchlists.yaml``): terms analysts want an alert for, in every spelling.

A watchlist matches an article when one of its terms occurs, as whole words, in one of the
article's fields; terms are matched by the shared ``matching.PhraseMatcher`` (normalised text,
Arabic proclitics, ``*`` endings).

Exclusions are phrases that contain a term but name something else: the football club
"نادي قره باغ", the "FK Qarabag" of a sports page. An occurrence of a term is suppressed when an
occurrence of an exclusion overlaps it (shares a word with it) in the same field. Suppression is
local: other occurrences of the term in the article still count, so an article about the club
that also mentions the conflict still alerts. Each exclusion must contain a term (otherwise it
could never overlap one) and must not equal a term (it would suppress every hit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from news_ingest.configfile import load_entries
from news_ingest.text import arabic
from news_ingest.text.matching import Hit, PhraseMatcher

__all__ = [
    "SNIPPET_CHARS",
    "Channel",
    "EmailChannel",
    "Explanation",
    "LogChannel",
    "SlackChannel",
    "Suppressed",
    "TermHit",
    "Watchlist",
    "WatchlistMatch",
    "WebhookChannel",
    "explain_match",
    "load_watchlists",
    "match_watchlist",
    "snippet",
]

SNIPPET_CHARS = 200

Severity = Literal["low", "medium", "high", "critical"]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Phrase = Annotated[str, StringConstraints(min_length=1)]
# Secrets (webhook URLs with tokens, signing keys) stay in the environment, never in the file.
EnvVar = Annotated[str, StringConstraints(pattern=r"^NEWS_INGEST_[A-Z0-9_]+$")]
EmailAddress = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookChannel(_Channel):
    """POST the alert as JSON to ``url``, signed with the secret in ``secret_env`` if set."""

    type: Literal["webhook"]
    url: HttpUrl
    secret_env: EnvVar | None = None


class SlackChannel(_Channel):
    """Post to a Slack incoming webhook whose URL is in the environment variable named here."""

    type: Literal["slack"]
    webhook_url_env: EnvVar
    channel: str | None = None


class EmailChannel(_Channel):
    type: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1)


class LogChannel(_Channel):
    """Write the alert to the pipeline log (always available; useful in local mode)."""

    type: Literal["log"]
    level: Literal["info", "warning", "error"] = "warning"


Channel = Annotated[
    WebhookChannel | SlackChannel | EmailChannel | LogChannel, Field(discriminator="type")
]


class Watchlist(BaseModel):
    """One entry of ``watchlists.yaml``; terms and exclusions are compiled when it is loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str = Field(min_length=1)
    description: str = ""
    severity: Severity
    terms: dict[Language, list[Phrase]] = Field(min_length=1)
    exclusions: dict[Language, list[Phrase]] = Field(default_factory=dict)
    channels: list[Channel] = Field(min_length=1)
    _terms: PhraseMatcher[str] = PrivateAttr()
    _exclusions: PhraseMatcher[str] = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self) -> Watchlist:
        self._terms = PhraseMatcher(_by_language(self.terms))
        self._exclusions = PhraseMatcher(_by_language(self.exclusions))
        for exclusion in self._exclusions.terms:
            inside = self._terms.find(exclusion.phrase)
            if not inside:
                raise ValueError(
                    f"exclusion '{exclusion.phrase}' contains no term of the watchlist, so it "
                    "can never suppress a hit; add the term or remove the exclusion"
                )
            whole = inside[0]
            exclusion_length = len(arabic.token_spans(exclusion.phrase))
            if not whole.proclitic and (whole.first, whole.last) == (0, exclusion_length):
                raise ValueError(
                    f"exclusion '{exclusion.phrase}' is the term '{whole.term.phrase}' "
                    "itself and would suppress every hit; make it a longer phrase"
                )
        return self

    def scan(self, text: str) -> tuple[list[Hit[str]], list[tuple[Hit[str], Hit[str]]]]:
        """Term occurrences in ``text`` that count, and (term, exclusion) pairs suppressed."""
        exclusion_hits = self._exclusions.find(text)
        kept: list[Hit[str]] = []
        suppressed: list[tuple[Hit[str], Hit[str]]] = []
        for hit in self._terms.find(text):
            blocker = next((other for other in exclusion_hits if other.overlaps(hit)), None)
            if blocker is None:
                kept.append(hit)
            else:
                suppressed.append((hit, blocker))
        return kept, suppressed


def _by_language(groups: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    return [(phrase, language) for language, phrases in groups.items() for phrase in phrases]


def load_watchlists(path: Path) -> list[Watchlist]:
    """Read and validate ``watchlists.yaml``; raises ConfigError naming the file and the entry."""
    return load_entries(path, "watchlists", Watchlist)


@dataclass(frozen=True)
class TermHit:
    """One counted occurrence: the configured term and what the text actually says.

    ``surface`` is ``text[start:end]`` of the field, as written; ``normalized`` is how the
    matcher read it; ``proclitic`` is what it stripped from the first word ("" if nothing).
    """

    term: str
    language: str
    field: str
    surface: str
    normalized: str
    proclitic: str
    start: int
    end: int


@dataclass(frozen=True)
class Suppressed:
    hit: TermHit
    exclusion: str
    exclusion_surface: str


@dataclass(frozen=True)
class WatchlistMatch:
    """A watchlist hit on an article: what matched, where first, and text to show an analyst.

    ``terms`` are the configured terms that matched and ``surface_forms`` the spellings found,
    each once, in order of appearance; ``field`` and ``snippet`` are from the first hit.
    """

    watchlist_id: str
    severity: Severity
    terms: tuple[str, ...]
    surface_forms: tuple[str, ...]
    field: str
    snippet: str
    hits: tuple[TermHit, ...]


def _term_hit(hit: Hit[str], field: str, text: str) -> TermHit:
    return TermHit(
        term=hit.term.phrase,
        language=hit.term.payload,
        field=field,
        surface=text[hit.start : hit.end],
        normalized=hit.normalized,
        proclitic=hit.proclitic,
        start=hit.start,
        end=hit.end,
    )


def match_watchlist(watchlist: Watchlist, fields: Mapping[str, str]) -> WatchlistMatch | None:
    """The watchlist's match on an article's ``fields`` (name -> text, in priority order)."""
    hits = [
        _term_hit(hit, field, text)
        for field, text in fields.items()
        for hit in watchlist.scan(text)[0]
    ]
    if not hits:
        return None
    first = hits[0]
    return WatchlistMatch(
        watchlist_id=watchlist.id,
        severity=watchlist.severity,
        terms=tuple(dict.fromkeys(hit.term for hit in hits)),
        surface_forms=tuple(dict.fromkeys(hit.surface for hit in hits)),
        field=first.field,
        snippet=snippet(fields[first.field], first.start, first.end),
        hits=tuple(hits),
    )


_SPACE = re.compile(r"\s")


def snippet(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around ``[start, end)``, cut between words.

    The text is kept as written (Arabic with its tashkeel, original spellings); only runs of
    whitespace become one space. "…" marks a cut.
    """
    left = max(0, min(start - max(0, width - (end - start)) // 2, len(text) - width))
    right = min(len(text), left + max(width, end - start))
    if left > 0 and not text[left - 1].isspace():
        gap = _SPACE.search(text, left, start)
        left = gap.end() if gap else left
    if right < len(text) and not text[right].isspace():
        gaps = [gap.start() for gap in _SPACE.finditer(text, end, right)]
        right = gaps[-1] if gaps else right
    body = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")


@dataclass(frozen=True)
class Explanation:
    """Why a text does or does not match a watchlist (for ``news-ingest watchlist test``)."""

    watchlist_id: str
    normalized_text: str
    hits: tuple[TermHit, ...]
    suppressed: tuple[Suppressed, ...]

    @property
    def matched(self) -> bool:
        return bool(self.hits)

    def render(self) -> str:
        verdict = "MATCH" if self.matched else "no match"
        lines = [
            f"watchlist {self.watchlist_id}: {verdict} "
            f"({len(self.hits)} hit(s), {len(self.suppressed)} suppressed)",
            f"normalised text: {self.normalized_text}",
        ]
        lines += [f"  hit: {_describe(hit)}" for hit in self.hits]
        lines += [
            f"  suppressed: {_describe(item.hit)}; inside exclusion '{item.exclusion}' "
            f"(text '{item.exclusion_surface}')"
            for item in self.suppressed
        ]
        if not self.hits and not self.suppressed:
            lines.append("  no term of the watchlist occurs as whole words in the text")
        return "\n".join(lines)


def _describe(hit: TermHit) -> str:
    clitic = f", proclitic '{hit.proclitic}' stripped" if hit.proclitic else ""
    return (
        f"'{hit.surface}' at {hit.start}-{hit.end} is term '{hit.term}' [{hit.language}] "
        f"(read as '{hit.normalized}'{clitic})"
    )


def explain_match(watchlist: Watchlist, text: str) -> Explanation:
    """Every occurrence of the watchlist's terms in ``text``, counted or suppressed, and why."""
    kept, suppressed = watchlist.scan(text)
    return Explanation(
        watchlist_id=watchlist.id,
        normalized_text=arabic.normalize(text),
        hits=tuple(_term_hit(hit, "text", text) for hit in kept),
        suppressed=tuple(
            Suppressed(
                _term_hit(hit, "text", text), blocker.term.phrase, text[blocker.start : blocker.end]
            )
            for hit, blocker in suppressed
        ),
    )
