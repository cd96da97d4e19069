"""Article search: the folded search text, the query builder, facets and highlights.

One module serves the CLI now and a UI later. Arabic spelling variants (hamza seats, taa
marbuta, alef maqsura, tashkeel, tatweel, Persian letters, Eastern digits) and attached
clitics are folded in Python (``news_ingest.text.folding``) on both sides: ``folded_fields``
writes the ``norm.*`` copies of title/lede/body at index time and ``fold`` turns the query
into the same form.
Elasticsearch then only needs the standard tokenizer, which every node has, so a node
without ``analysis-common`` (the local integ-test node) ranks exactly like a full one on
these fields, and the full node's own Arabic chain (which folds less than
``arabic.normalize``) can never disagree with the query side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from elasticsearch import Elasticsearch
from news_ingest.es.indices import IndexNames
from news_ingest.text.arabic import token_spans, tokens
from news_ingest.text.folding import TEXT_FIELDS, fold, stem

# Title counts most, the lede (the article's own summary) more than a passing body mention.
BOOSTS = {"title": 3.0, "lede": 2.0, "body": 1.0}
# Up to three query words must all match; longer queries may miss a quarter (function words,
# a variant no article uses).
MINIMUM_SHOULD_MATCH = "3<75%"
PHRASE_BOOST = 2.0
PHRASE_SLOP = 1
# Elasticsearch refuses from + size beyond index.max_result_window.
MAX_WINDOW = 10_000
FACET_SIZES = {"topics": 20, "languages": 10, "sources": 20, "watchlists": 10}
FACET_FIELDS = {
    "topics": "topics",
    "languages": "language",
    "sources": "source",
    "watchlists": "watchlists",
}

RESULT_FIELDS = [
    "url",
    "canonical_url",
    "title",
    "lede",
    "body",
    "language",
    "topics",
    "published_at",
    "source",
    "categories",
    "watchlists",
    "story_id",
    "duplicate_of",
]
# Members of a collapsed story shown under its hit ("also reported by").
STORY_MEMBERS_SHOWN = 5

_LATIN = re.compile("[a-z]", re.IGNORECASE)
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Snippet width around the first highlighted word, in characters of the original text.
SNIPPET_CONTEXT = 90
# Highlighting words of two letters or fewer (في، من، عن) would mark half an Arabic text.
_MIN_HIGHLIGHT_CHARS = 3

Sort = Literal["relevance", "date"]


def language_subfields(text: str, languages: Sequence[str] = ()) -> list[str]:
    """Per-language subfields worth querying for ``text`` (English, French, Russian stemming).

    Chosen by the script of the query, narrowed to the ``languages`` filter when given: an
    Arabic query gains nothing from the English analyzer.
    """
    wanted = []
    if _LATIN.search(text):
        wanted += ["en", "fr"]
    if _CYRILLIC.search(text):
        wanted.append("ru")
    if languages:
        wanted = [lang for lang in wanted if lang in languages]
    return [f"{name}.{lang}" for lang in wanted for name in TEXT_FIELDS]


@dataclass(frozen=True)
class SearchRequest:
    """What to search; every filter is optional. ``since``/``until`` take ISO dates, full
    timestamps or date math (``now-7d``); a bare date in ``until`` includes that whole day."""

    text: str = ""
    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    watchlists: tuple[str, ...] = ()
    sort: Sort = "relevance"
    page: int = 1
    size: int = 10
    search_after: tuple[Any, ...] | None = None
    facets: bool = False
    interval: str = "day"
    # "story": one hit per story (field collapsing on story_id), with its matching members.
    collapse: Literal["story"] | None = None


def text_query(text: str, languages: Sequence[str] = ()) -> dict[str, Any]:
    """Free text over title, lede and body; an exact phrase ranks above scattered words.

    The folded ``norm.*`` fields carry recall on every node. The original fields (with the
    node's analysis and the language subfields) add score, and keep articles indexed before
    the ``norm`` copies existed findable until `news-ingest reindex` has run.
    """
    folded = fold(text)
    norm_fields = [f"norm.{name}" for name in TEXT_FIELDS]
    original_fields = [*TEXT_FIELDS, *language_subfields(text, languages)]
    return {
        "bool": {
            "should": [
                _cross_fields(folded, norm_fields),
                _cross_fields(text, original_fields, boost=0.5),
            ],
            "minimum_should_match": 1,
        }
    }


def _cross_fields(text: str, fields: Sequence[str], *, boost: float = 1.0) -> dict[str, Any]:
    return {
        "multi_match": {
            "query": text,
            "fields": [f"{name}^{_boost_of(name):g}" for name in fields],
            "type": "cross_fields",
            "minimum_should_match": MINIMUM_SHOULD_MATCH,
            "boost": boost,
        }
    }


def _boost_of(field_name: str) -> float:
    # norm.title -> title; title.en -> title
    parts = field_name.split(".")
    return BOOSTS[parts[1] if parts[0] == "norm" else parts[0]]


def build_query(request: SearchRequest) -> dict[str, Any]:
    filters = _filters(request)
    if not request.text.strip():
        return {"bool": {"filter": filters}} if filters else {"match_all": {}}
    phrase = {
        "multi_match": {
            "query": fold(request.text),
            "fields": [f"norm.{name}^{BOOSTS[name]:g}" for name in TEXT_FIELDS],
            "type": "phrase",
            "slop": PHRASE_SLOP,
            "boost": PHRASE_BOOST,
        }
    }
    return {
        "bool": {
            "must": [text_query(request.text, request.languages)],
            "should": [phrase],
            "filter": filters,
        }
    }


def _filters(request: SearchRequest) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [
        {"terms": {field_name: list(values)}}
        for field_name, values in (
            ("source", request.sources),
            ("language", request.languages),
            ("topics", request.topics),
            ("watchlists", request.watchlists),
        )
        if values
    ]
    dates: dict[str, str] = {}
    if request.since:
        dates["gte"] = request.since
    if request.until:
        # lte on a bare date would stop at its midnight; ||/d rounds up to the day's end.
        whole_day = _DATE_ONLY.fullmatch(request.until)
        dates["lte"] = f"{request.until}||/d" if whole_day else request.until
    if dates:
        filters.append({"range": {"published_at": dates}})
    return filters


def build_sort(sort: Sort) -> list[dict[str, Any]]:
    """The canonical URL breaks ties, so search_after pages are stable."""
    newest = {"published_at": {"order": "desc", "missing": "_last"}}
    tiebreak = {"canonical_url": {"order": "asc", "missing": "_last"}}
    if sort == "date":
        return [newest, tiebreak]
    return [{"_score": {"order": "desc"}}, newest, tiebreak]


def build_body(request: SearchRequest) -> dict[str, Any]:
    """The whole search request body for ``request``."""
    if request.page < 1 or request.size < 1:
        raise ValueError("page and size start at 1")
    body: dict[str, Any] = {
        "query": build_query(request),
        "sort": build_sort(request.sort),
        "size": request.size,
        "_source": RESULT_FIELDS,
        "track_total_hits": True,
    }
    if request.collapse == "story":
        if request.search_after is not None:
            raise ValueError("a collapsed search pages with --page, not search_after")
        body["collapse"] = {
            "field": "story_id",
            "inner_hits": {
                "name": "members",
                "size": STORY_MEMBERS_SHOWN,
                "sort": [{"published_at": {"order": "asc", "missing": "_last"}}],
                "_source": ["url", "source", "title", "language", "published_at"],
            },
        }
        body["aggs"] = {"stories": {"cardinality": {"field": "story_id"}}}
    if request.search_after is not None:
        body["search_after"] = list(request.search_after)
    else:
        start = (request.page - 1) * request.size
        if start + request.size > MAX_WINDOW:
            raise ValueError(
                f"page {request.page} of {request.size} goes past result {MAX_WINDOW}; "
                "narrow the search or page with search_after"
            )
        body["from"] = start
    if request.facets:
        body["aggs"] = (
            body.get("aggs", {})
            | {
                name: {"terms": {"field": FACET_FIELDS[name], "size": size}}
                for name, size in FACET_SIZES.items()
            }
            | {
                "published": {
                    "date_histogram": {
                        "field": "published_at",
                        "calendar_interval": request.interval,
                        "min_doc_count": 1,
                    }
                }
            }
        )
    return body


@dataclass(frozen=True)
class Snippet:
    """A piece of the original text and the ``[start, end)`` spans of matched words in it."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "spans": [list(span) for span in self.spans]}


def highlight(text: str, query: str, *, context: int | None = None) -> Snippet | None:
    """Mark the words of ``text`` that match ``query`` once both are folded.

    Done in Python rather than by Elasticsearch's highlighter: the matching happens on the
    folded ``norm.*`` copies, whose offsets do not point into the original text, while
    ``arabic.token_spans`` does. ``context`` cuts a window around the first match.
    """
    wanted = {stem(word) for word in tokens(query) if len(word) >= _MIN_HIGHLIGHT_CHARS}
    spans = [(token.start, token.end) for token in token_spans(text) if stem(token.text) in wanted]
    if not spans:
        return None
    if context is None:
        return Snippet(text, tuple(spans))
    start = _word_boundary(text, max(0, spans[0][0] - context), backwards=True)
    end = _word_boundary(text, min(len(text), spans[0][1] + context), backwards=False)
    inside = tuple((s - start, e - start) for s, e in spans if s >= start and e <= end)
    return Snippet(text[start:end], inside)


def _word_boundary(text: str, position: int, *, backwards: bool) -> int:
    """Move ``position`` to the nearest space so a snippet never cuts a word."""
    if position in (0, len(text)):
        return position
    found = text.rfind(" ", 0, position) if backwards else text.find(" ", position)
    if found == -1:
        return 0 if backwards else len(text)
    return found + 1 if backwards else found


def highlights(source: Mapping[str, Any], query: str) -> dict[str, dict[str, Any]]:
    """Highlighted title and lede in full, the body as a snippet around its first match."""
    found: dict[str, dict[str, Any]] = {}
    for name in TEXT_FIELDS:
        context = SNIPPET_CONTEXT if name == "body" else None
        snippet = highlight(source.get(name) or "", query, context=context)
        if snippet is not None:
            found[name] = snippet.as_dict()
    return found


@dataclass
class SearchResult:
    total: int
    hits: list[dict[str, Any]]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    # Pass as SearchRequest.search_after to get the next page (None: no further page).
    next_after: tuple[Any, ...] | None = None


def search(es: Elasticsearch, names: IndexNames, request: SearchRequest) -> SearchResult:
    response = es.search(index=names.articles, body=build_body(request))
    raw_hits = response["hits"]["hits"]
    hits = [
        {
            "id": hit["_id"],
            "score": hit["_score"],
            **hit["_source"],
            "highlight": highlights(hit["_source"], request.text) if request.text else {},
            **({"story": story_of(hit)} if "inner_hits" in hit else {}),
        }
        for hit in raw_hits
    ]
    aggregations = response.get("aggregations", {})
    facets = {
        name: [(str(b.get("key_as_string", b["key"])), b["doc_count"]) for b in agg["buckets"]]
        for name, agg in aggregations.items()
        if "buckets" in agg
    }
    full_page = len(raw_hits) == request.size
    total = response["hits"]["total"]["value"]
    return SearchResult(
        # Collapsed: the number of stories (cardinality, exact below 3000 stories).
        total=int(aggregations["stories"]["value"]) if request.collapse else total,
        hits=hits,
        facets=facets,
        next_after=tuple(raw_hits[-1]["sort"]) if full_page and not request.collapse else None,
    )


def story_of(hit: Mapping[str, Any]) -> dict[str, Any]:
    """A collapsed hit's story: how many articles matched, the first few of them (oldest
    first), and the other sources among those."""
    members = hit["inner_hits"]["members"]["hits"]
    shown = [{"id": m["_id"], **m["_source"]} for m in members["hits"]]
    return {
        "id": hit["_source"].get("story_id"),
        "members": members["total"]["value"],
        "shown": shown,
        "also_reported_by": sorted(
            {m["source"] for m in shown if m["id"] != hit["_id"] and m.get("source")}
        ),
    }
