"""Stories in Elasticsearch: candidates for a batch, and the ``<prefix>-stories`` documents.

Grouping itself is pure (``news_ingest.text.stories``); this module reads the candidates
(one ``terms`` query on the batch's fingerprint keys, within the time window) and derives
one document per story from the articles that carry its ``story_id``: derived, not counted
up, so a retried batch or a crash between the two writes cannot make a count drift.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.text.crosslingual import Telling, concepts, links
from news_ingest.text.stories import Assignment, Fingerprint, Member, assign

# Enough for every near-copy of a batch of 200 articles; a key shared by more articles
# than this is a boilerplate text, whose oldest members are dropped first.
MAX_CANDIDATES = 5000
_MEMBER_FIELDS = ["fingerprint", "story_id", "duplicate_of", "published_at", "fetched_at"]
# What a story document is derived from, per story.
_STORY_AGGS: dict[str, Any] = {
    "sources": {"terms": {"field": "source", "size": 100}},
    "languages": {"terms": {"field": "language", "size": 50}},
    "duplicates": {"filter": {"exists": {"field": "duplicate_of"}}},
    "linked": {"terms": {"field": "cross_lingual.story_id", "size": 100}},
    "updated": {"max": {"field": "indexed_at"}},
    "first": {
        "top_hits": {
            "size": 1,
            "sort": [{"published_at": {"order": "asc", "missing": "_last"}}],
            "_source": ["url", "title", "source", "published_at", "fetched_at"],
        }
    },
}
_TELLING_FIELDS = [
    "story_id",
    "source",
    "language",
    "published_at",
    "fetched_at",
    "figures",
    "topics",
    "watchlists",
]


def seen_at(doc: Mapping[str, Any]) -> datetime:
    """When an article appeared: its publication time, or else its fetch time."""
    value = doc.get("published_at") or doc["fetched_at"]
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def member(doc_id: str, doc: Mapping[str, Any]) -> Member:
    return Member(
        id=doc_id,
        seen_at=seen_at(doc),
        fingerprint=Fingerprint.from_fields(doc["fingerprint"]),
        story_id=doc.get("story_id"),
        duplicate_of=doc.get("duplicate_of"),
    )


def _seen_within(moments: Sequence[datetime], window: timedelta) -> dict[str, Any]:
    """A filter: articles seen (published, else fetched) within ``window`` of the moments."""
    start = (min(moments) - window).isoformat()
    end = (max(moments) + window).isoformat()
    in_window = [
        {"range": {"published_at": {"gte": start, "lte": end}}},
        {
            "bool": {
                "must_not": {"exists": {"field": "published_at"}},
                "filter": {"range": {"fetched_at": {"gte": start, "lte": end}}},
            }
        },
    ]
    return {"bool": {"should": in_window, "minimum_should_match": 1}}


def candidates(
    es: Elasticsearch, names: IndexNames, batch: Sequence[Member], window: timedelta
) -> list[Member]:
    """Indexed articles sharing a fingerprint key with the batch, within the window."""
    if not batch:
        return []
    keys = sorted({key for m in batch for key in m.fingerprint.keys})
    response = es.search(
        index=names.articles,
        query={
            "bool": {
                "filter": [
                    {"terms": {"fingerprint.keys": keys}},
                    _seen_within([m.seen_at for m in batch], window),
                ]
            }
        },
        source_includes=_MEMBER_FIELDS,
        sort=[{"published_at": {"order": "desc", "missing": "_last"}}],
        size=MAX_CANDIDATES,
    )
    return [
        member(hit["_id"], hit["_source"])
        for hit in response["hits"]["hits"]
        if "fingerprint" in hit["_source"]
    ]


def assign_stories(
    es: Elasticsearch,
    names: IndexNames,
    documents: Sequence[dict[str, Any]],
    *,
    threshold: float,
    window: timedelta,
) -> dict[str, Assignment]:
    """Set ``story_id``, ``duplicate_of`` and ``story_similarity`` on documents about to be
    written (those with a fingerprint); returns the assignments by article id."""
    batch = [member(doc["_id"], doc) for doc in documents if "fingerprint" in doc]
    known = candidates(es, names, batch, window)
    assignments = assign(batch, known, threshold=threshold, window=window)
    for doc in documents:
        found = assignments.get(doc["_id"])
        if found is not None:
            doc.update(
                story_id=found.story_id,
                duplicate_of=found.duplicate_of,
                story_similarity=found.similarity,
            )
    return assignments


def telling(doc_id: str, doc: Mapping[str, Any]) -> Telling:
    return Telling(
        id=doc_id,
        story_id=doc.get("story_id") or doc_id,
        source=doc["source"],
        language=doc.get("language") or "",
        seen_at=seen_at(doc),
        figures=frozenset(doc.get("figures") or ()),
        concepts=concepts(doc),
    )


def link_languages(
    es: Elasticsearch,
    names: IndexNames,
    documents: Sequence[dict[str, Any]],
    publisher_of: Mapping[str, str],
    *,
    window: timedelta,
) -> int:
    """Set ``cross_lingual`` on documents about to be written (after their story
    assignment): links to articles of the same publisher in other languages, found with one
    ``terms`` query on the batch's figures. Returns the number of links."""
    batch = [telling(doc["_id"], doc) for doc in documents if doc.get("figures")]
    if not batch:
        return 0
    publishers = {publisher_of.get(t.source, t.source) for t in batch}
    sources = sorted(
        {t.source for t in batch} | {s for s, p in publisher_of.items() if p in publishers}
    )
    response = es.search(
        index=names.articles,
        query={
            "bool": {
                "filter": [
                    {"terms": {"figures": sorted(set().union(*(t.figures for t in batch)))}},
                    {"terms": {"source": sources}},
                    _seen_within([t.seen_at for t in batch], window),
                ]
            }
        },
        source_includes=_TELLING_FIELDS,
        size=MAX_CANDIDATES,
    )
    known = [telling(hit["_id"], hit["_source"]) for hit in response["hits"]["hits"]]
    found = links(batch, known, publisher_of, window=window)
    for doc in documents:
        if doc["_id"] in found:
            doc["cross_lingual"] = [link.as_field() for link in found[doc["_id"]]]
    return sum(len(doc_links) for doc_links in found.values())


def stored_links(es: Elasticsearch, names: IndexNames) -> list[tuple[str, str]]:
    """Every stored cross-language link, as (article URL, linked article URL)."""
    es.indices.refresh(index=names.articles)
    docs = {
        hit["_id"]: hit["_source"]
        for hit in helpers.scan(es, index=names.articles, _source=["url", "cross_lingual"])
    }
    return [
        (doc["url"], docs[link["article_id"]]["url"])
        for doc in docs.values()
        for link in doc.get("cross_lingual", [])
        if link["article_id"] in docs
    ]


def update_story_docs(es: Elasticsearch, names: IndexNames, story_ids: Iterable[str]) -> int:
    """Rewrite the story documents of ``story_ids`` from their member articles, and from the
    articles of other stories that link to them across languages (a link is written on the
    later article only, so the earlier story learns of it here)."""
    wanted = sorted(set(story_ids))
    if not wanted:
        return 0
    es.indices.refresh(index=names.articles)
    members = {"terms": {"story_id": wanted}}
    linking = {"terms": {"cross_lingual.story_id": wanted}}
    response = es.search(
        index=names.articles,
        query={"bool": {"should": [members, linking], "minimum_should_match": 1}},
        size=0,
        aggs={
            "members": {
                "filter": members,
                "aggs": {
                    "stories": {
                        "terms": {"field": "story_id", "size": len(wanted)},
                        "aggs": _STORY_AGGS,
                    }
                },
            },
            "linking": {
                "filter": linking,
                "aggs": {
                    "linked": {
                        "terms": {
                            "field": "cross_lingual.story_id",
                            "include": wanted,
                            "size": len(wanted),
                        },
                        "aggs": {"from": {"terms": {"field": "story_id", "size": 100}}},
                    }
                },
            },
        },
    )
    aggregations = response["aggregations"]
    linked_from = {
        bucket["key"]: {inner["key"] for inner in bucket["from"]["buckets"]}
        for bucket in aggregations["linking"]["linked"]["buckets"]
    }
    now = datetime.now(UTC).isoformat()
    actions = [
        {
            "_op_type": "index",
            "_index": names.stories,
            "_id": bucket["key"],
            **story_doc(bucket, now, linked_from.get(bucket["key"], set())),
        }
        for bucket in aggregations["members"]["stories"]["buckets"]
    ]
    helpers.bulk(es, actions, max_retries=3, raise_on_error=True)
    return len(actions)


def story_doc(
    bucket: Mapping[str, Any], now: str, linked_from: Collection[str] = ()
) -> dict[str, Any]:
    """The story document from its aggregation bucket and the stories linking to it (pure)."""
    first = bucket["first"]["hits"]["hits"][0]
    by_source = {b["key"]: b["doc_count"] for b in bucket["sources"]["buckets"]}
    by_language = {b["key"]: b["doc_count"] for b in bucket["languages"]["buckets"]}
    return {
        "story_id": bucket["key"],
        "first_article_id": first["_id"],
        "first_url": first["_source"].get("url"),
        "first_title": first["_source"].get("title"),
        "first_source": first["_source"].get("source"),
        "first_seen_at": seen_at(first["_source"]).isoformat(),
        "updated_at": bucket["updated"].get("value_as_string") or now,
        "members": bucket["doc_count"],
        "duplicates": bucket["duplicates"]["doc_count"],
        "sources": sorted(by_source),
        "languages": sorted(by_language),
        "members_by_source": by_source,
        "members_by_language": by_language,
        "linked_stories": sorted(
            ({b["key"] for b in bucket.get("linked", {}).get("buckets", [])} | set(linked_from))
            - {bucket["key"]}
        ),
    }


def story(es: Elasticsearch, names: IndexNames, story_id: str) -> dict[str, Any] | None:
    response = es.options(ignore_status=404).get(index=names.stories, id=story_id)
    return dict(response["_source"]) if response.get("found") else None
