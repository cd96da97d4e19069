"""Stories in Elasticsearch: candidates for a batch, and the ``<prefix>-stories`` documents.

Grouping itself is pure (``news_ingest.text.stories``); this module reads the candidates
(one ``terms`` query on the batch's fingerprint keys, within the time window) and derives
one document per story from the articles that carry its ``story_id``: derived, not counted
up, so a retried batch or a crash between the two writes cannot make a count drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.text.stories import Assignment, Fingerprint, Member, assign

# Enough for every near-copy of a batch of 200 articles; a key shared by more articles
# than this is a boilerplate text, whose oldest members are dropped first.
MAX_CANDIDATES = 5000
_MEMBER_FIELDS = ["fingerprint", "story_id", "duplicate_of", "published_at", "fetched_at"]


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


def candidates(
    es: Elasticsearch, names: IndexNames, batch: Sequence[Member], window: timedelta
) -> list[Member]:
    """Indexed articles sharing a fingerprint key with the batch, within the window."""
    if not batch:
        return []
    keys = sorted({key for m in batch for key in m.fingerprint.keys})
    start = (min(m.seen_at for m in batch) - window).isoformat()
    end = (max(m.seen_at for m in batch) + window).isoformat()
    in_window = [
        {"range": {"published_at": {"gte": start, "lte": end}}},
        {
            "bool": {
                "must_not": {"exists": {"field": "published_at"}},
                "filter": {"range": {"fetched_at": {"gte": start, "lte": end}}},
            }
        },
    ]
    response = es.search(
        index=names.articles,
        query={
            "bool": {
                "filter": [
                    {"terms": {"fingerprint.keys": keys}},
                    {"bool": {"should": in_window, "minimum_should_match": 1}},
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


def update_story_docs(es: Elasticsearch, names: IndexNames, story_ids: Iterable[str]) -> int:
    """Rewrite the story documents of ``story_ids`` from their member articles."""
    wanted = sorted(set(story_ids))
    if not wanted:
        return 0
    es.indices.refresh(index=names.articles)
    response = es.search(
        index=names.articles,
        query={"terms": {"story_id": wanted}},
        size=0,
        aggs={
            "stories": {
                "terms": {"field": "story_id", "size": len(wanted)},
                "aggs": {
                    "sources": {"terms": {"field": "source", "size": 100}},
                    "languages": {"terms": {"field": "language", "size": 50}},
                    "duplicates": {"filter": {"exists": {"field": "duplicate_of"}}},
                    "updated": {"max": {"field": "indexed_at"}},
                    "first": {
                        "top_hits": {
                            "size": 1,
                            "sort": [{"published_at": {"order": "asc", "missing": "_last"}}],
                            "_source": ["url", "title", "source", "published_at", "fetched_at"],
                        }
                    },
                },
            }
        },
    )
    now = datetime.now(UTC).isoformat()
    actions = [
        {
            "_op_type": "index",
            "_index": names.stories,
            "_id": bucket["key"],
            **story_doc(bucket, now),
        }
        for bucket in response["aggregations"]["stories"]["buckets"]
    ]
    helpers.bulk(es, actions, max_retries=3, raise_on_error=True)
    return len(actions)


def story_doc(bucket: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The story document from its aggregation bucket (pure)."""
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
    }


def story(es: Elasticsearch, names: IndexNames, story_id: str) -> dict[str, Any] | None:
    response = es.options(ignore_status=404).get(index=names.stories, id=story_id)
    return dict(response["_source"]) if response.get("found") else None
