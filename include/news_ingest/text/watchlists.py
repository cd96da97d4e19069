"""Watchlists (``watchlists.yaml``): terms analysts want an alert for, in every spelling.

A watchlist matches an article when one of its terms occurs, as whole words, in one of the
article's fields; terms are matched by the shared ``matching.PhraseMatcher`` (normalised text,
Arabic proclitics, ``*`` endings). Terms listed under ``names`` are transliterated names: they
match exactly like terms, and also in spellings nobody listed (``text.variants.NameMatcher``: same
sound skeleton, a bounded weighted edit distance). An exact occurrence wins over a variant one.

Exclusions are phrases that contain a term but name something else: the football club
"نادي قره باغ", the "FK Qarabag" of a sports page. An occurrence of a term is suppressed when an
occurrence of an exclusion overlaps it (shares a word with it) in the same field. Suppression is
local: other occurrences of the term in the article still count, so an article about the club
that also mentions the conflict still alerts. Each exclusion must contain a term (otherwise it
could never overlap one) and must not equal a term (it would suppress every hit). A variant
occurrence is suppressed when an exclusion occurs once the variant is read as its name
("نادي قاراباق" reads "نادي قره باغ").
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
from news_ingest.text import arabic, variants
from news_ingest.text.matching import Hit, PhraseMatcher
from news_ingest.text.variants import NameMatcher, VariantHit

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
    terms: dict[Language, list[Phrase]] = Field(default_factory=dict)
    names: dict[Language, list[Phrase]] = Field(default_factory=dict)
    exclusions: dict[Language, list[Phrase]] = Field(default_factory=dict)
    channels: list[Channel] = Field(min_length=1)
    # immediate: each new story's alert as it is indexed; hourly/daily: one digest message
    # per period listing its stories (news_ingest.alerting.digests).
    delivery: Literal["immediate", "hourly", "daily"] = "immediate"
    # One "edited" event, with the diff, per revision of an article it alerted on
    # (news_ingest.alerting.edits).
    edit_alerts: bool = False
    _terms: PhraseMatcher[str] = PrivateAttr()
    _names: NameMatcher = PrivateAttr()
    _exclusions: PhraseMatcher[str] = PrivateAttr()
    _contexts: tuple[_Context, ...] = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self) -> Watchlist:
        if not any(self.terms.values()) and not any(self.names.values()):
            raise ValueError("a watchlist needs at least one entry under terms or names")
        self._terms = PhraseMatcher(_by_language(self.terms) + _by_language(self.names))
        self._names = NameMatcher(_by_language(self.names))
        self._exclusions = PhraseMatcher(_by_language(self.exclusions))
        self._contexts = tuple(self._name_contexts())
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

    def scan(self, text: str) -> tuple[list[_Occurrence], list[tuple[_Occurrence, str, str]]]:
        """Occurrences in ``text`` that count, and (occurrence, exclusion, its text) suppressed."""
        exclusion_hits = self._exclusions.find(text)
        kept: list[_Occurrence] = []
        suppressed: list[tuple[_Occurrence, str, str]] = []
        exact = self._terms.find(text)
        for hit in exact:
            blocker = next((other for other in exclusion_hits if other.overlaps(hit)), None)
            if blocker is None:
                kept.append(_exact(hit))
            else:
                suppressed.append((_exact(hit), blocker.term.phrase, _surface(text, blocker)))
        for variant in self._names.find(text):
            if any(variant.overlaps(hit) for hit in exact):
                continue
            blocked = self._variant_exclusion(text, variant)
            if blocked is None:
                kept.append(_variant(variant))
            else:
                suppressed.append((_variant(variant), *blocked))
        kept.sort(key=lambda occurrence: occurrence.start)
        return kept, suppressed

    def _name_contexts(self) -> list[_Context]:
        names = {arabic.normalize(phrase) for phrases in self.names.values() for phrase in phrases}
        contexts = []
        for exclusion in self._exclusions.terms:
            words = [word.text for word in exclusion.words]
            for hit in self._terms.find(exclusion.phrase):
                if hit.term.normalized in names:
                    before, after = tuple(words[: hit.first]), tuple(words[hit.last :])
                    sounds = variants.keys(hit.term.phrase)
                    contexts.append(_Context(exclusion.phrase, before, after, sounds))
        return contexts

    def _variant_exclusion(self, text: str, variant: VariantHit) -> tuple[str, str] | None:
        """(exclusion, its text) around a variant of a name that the exclusion contains.

        The name in the exclusion is read by sound too: "نادي قاراباق" is the club of the
        exclusion "نادي قره باغ", whichever listed spelling the variant is nearest to.
        """
        spans = arabic.token_spans(text)
        sounds = variants.keys(variant.phrase) | {variant.key}
        for context in self._contexts:
            first, last = variant.first - len(context.before), variant.last + len(context.after)
            if not context.sounds & sounds or first < 0 or last > len(spans):
                continue
            around = [span.text for span in spans[first : variant.first]]
            around += [span.text for span in spans[variant.last : last]]
            if tuple(around) == context.before + context.after:
                return context.exclusion, text[spans[first].start : spans[last - 1].end]
        return None


@dataclass(frozen=True)
class _Context:
    """An exclusion that contains a name: the words around the name, and the name's sound."""

    exclusion: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    sounds: frozenset[str]


@dataclass(frozen=True)
class _Occurrence:
    """An exact or variant occurrence, in the shape both explanations and alerts use."""

    term: str
    language: str
    start: int
    end: int
    normalized: str
    proclitic: str
    rule: str


def _exact(hit: Hit[str]) -> _Occurrence:
    return _Occurrence(
        hit.term.phrase, hit.term.payload, hit.start, hit.end, hit.normalized, hit.proclitic, ""
    )


def _variant(hit: VariantHit) -> _Occurrence:
    return _Occurrence(
        hit.phrase, hit.language, hit.start, hit.end, hit.normalized, hit.proclitic, hit.rule
    )


def _surface(text: str, hit: Hit[str]) -> str:
    return text[hit.start : hit.end]


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
    rule: str = ""


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


def _term_hit(hit: _Occurrence, field: str, text: str) -> TermHit:
    return TermHit(
        term=hit.term,
        language=hit.language,
        field=field,
        surface=text[hit.start : hit.end],
        normalized=hit.normalized,
        proclitic=hit.proclitic,
        start=hit.start,
        end=hit.end,
        rule=hit.rule,
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
            lines.append(
                "  no term of the watchlist occurs as whole words in the text, "
                "nor a spelling variant of one of its names"
            )
        return "\n".join(lines)


def _describe(hit: TermHit) -> str:
    clitic = f", proclitic '{hit.proclitic}' stripped" if hit.proclitic else ""
    rule = f"; {hit.rule}" if hit.rule else ""
    return (
        f"'{hit.surface}' at {hit.start}-{hit.end} is term '{hit.term}' [{hit.language}] "
        f"(read as '{hit.normalized}'{clitic}){rule}"
    )


def explain_match(watchlist: Watchlist, text: str) -> Explanation:
    """Every occurrence of the watchlist's terms in ``text``, counted or suppressed, and why."""
    kept, suppressed = watchlist.scan(text)
    return Explanation(
        watchlist_id=watchlist.id,
        normalized_text=arabic.normalize(text),
        hits=tuple(_term_hit(hit, "text", text) for hit in kept),
        suppressed=tuple(
            Suppressed(_term_hit(hit, "text", text), exclusion, surface)
            for hit, exclusion, surface in suppressed
        ),
    )
