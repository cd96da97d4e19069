"""Stories in Elasticsearch: candidates for a batch, and the ``<prefix>-stories`` documents.

Grouping itself is pure (``news_ingest.text.stories``); this module reads the candidates
(one ``terms`` query on the batch's fingerprint keys, within the time window) and derives
one document per story from the articles that carry its ``story_id``: derived, not counted
up, so a retried batch cannot make a count drift. A batch's story documents are derived
before the write, from one aggregation over the stories' members already indexed (leaving
the batch out) plus the batch's own articles, and written right after the articles, each
only if no other batch wrote it since: a story that parallel batches both joined is
derived again from its indexed members by the batch that came second.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.es.store import item_error
from news_ingest.text.crosslingual import Telling, concepts, links
from news_ingest.text.stories import Assignment, Fingerprint, Member, assign

log = logging.getLogger(__name__)

# Enough for every near-copy of a batch of 200 articles; a key shared by more articles
# than this is a boilerplate text, whose oldest members are dropped first.
MAX_CANDIDATES = 5000
# Tries at a story document that other batches keep writing first (each one a refresh
# and an aggregation): far more than parallel batches of one story ever make.
MAX_REDERIVE = 10
# Stories per aggregation and mget when looking for stale story documents.
REPAIR_CHUNK = 1000
CONFLICT = 409
_FIRST_FIELDS = ["url", "title", "source", "published_at", "fetched_at"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
            # Ties broken on fields, not on index order, so that article_summary can
            # tell the same first article from the articles themselves.
            "sort": [
                {"published_at": {"order": "asc", "missing": "_last"}},
                {"fetched_at": {"order": "asc"}},
                {"url": {"order": "asc"}},
            ],
            "_source": _FIRST_FIELDS,
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
    # The earlier batches' articles are candidates: they must be searchable. Usually a
    # periodic refresh has done it.
    es.indices.refresh(index=names.articles)
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


@dataclass(frozen=True)
class StorySummary:
    """What a story document is derived from, over some of its members: how many, their
    duplicates, sources and languages, the stories they link to, their latest
    ``indexed_at`` (epoch ms) and their first article (id and fields). Summaries of
    disjoint sets of members add up (``+``) to the summary of their union."""

    members: int = 0
    duplicates: int = 0
    by_source: Mapping[str, int] = field(default_factory=dict)
    by_language: Mapping[str, int] = field(default_factory=dict)
    links_to: frozenset[str] = frozenset()
    updated_ms: int | None = None
    first: tuple[str, Mapping[str, Any]] | None = None

    def __add__(self, other: StorySummary) -> StorySummary:
        updated = [ms for ms in (self.updated_ms, other.updated_ms) if ms is not None]
        firsts = [first for first in (self.first, other.first) if first is not None]
        return StorySummary(
            members=self.members + other.members,
            duplicates=self.duplicates + other.duplicates,
            by_source=dict(Counter(self.by_source) + Counter(other.by_source)),
            by_language=dict(Counter(self.by_language) + Counter(other.by_language)),
            links_to=self.links_to | other.links_to,
            updated_ms=max(updated, default=None),
            first=min(firsts, key=_first_order, default=None),
        )


def _millis(value: str) -> int:
    """An ISO time as Elasticsearch's ``date`` holds it: whole milliseconds since 1970."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _es_date(millis: int) -> str:
    """Epoch milliseconds as an aggregation prints a ``date``: ``2026-02-02T10:00:00.000Z``."""
    moment = _EPOCH + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _first_order(first: tuple[str, Mapping[str, Any]]) -> tuple[bool, int, int, str]:
    """The order of the aggregation's ``first`` (its top_hits sort), as a sort key."""
    fields = first[1]
    published = fields.get("published_at")
    return (
        published is None,
        _millis(published) if published else 0,
        _millis(fields["fetched_at"]),
        fields.get("url") or "",
    )


def articles_summary(docs: Sequence[Mapping[str, Any]], indexed_at: str) -> StorySummary:
    """The summary of articles (with ``_id``) written with ``indexed_at``, as the
    aggregation counts them once they are indexed."""
    return StorySummary(
        members=len(docs),
        duplicates=sum(doc.get("duplicate_of") is not None for doc in docs),
        by_source=dict(Counter(doc["source"] for doc in docs)),
        by_language=dict(
            Counter(doc["language"] for doc in docs if doc.get("language") is not None)
        ),
        links_to=frozenset(
            link["story_id"] for doc in docs for link in doc.get("cross_lingual") or ()
        ),
        updated_ms=_millis(indexed_at) if docs else None,
        first=min(
            (
                (
                    doc["_id"],
                    {name: doc[name] for name in _FIRST_FIELDS if doc.get(name) is not None},
                )
                for doc in docs
            ),
            key=_first_order,
            default=None,
        ),
    )


def bucket_summary(bucket: Mapping[str, Any]) -> StorySummary:
    """The summary of the members an aggregation bucket (of ``_STORY_AGGS``) counted."""
    first = bucket["first"]["hits"]["hits"][0]
    updated = bucket["updated"].get("value")
    return StorySummary(
        members=bucket["doc_count"],
        duplicates=bucket["duplicates"]["doc_count"],
        by_source={b["key"]: b["doc_count"] for b in bucket["sources"]["buckets"]},
        by_language={b["key"]: b["doc_count"] for b in bucket["languages"]["buckets"]},
        links_to=frozenset(b["key"] for b in bucket.get("linked", {}).get("buckets", [])),
        updated_ms=None if updated is None else int(updated),
        first=(first["_id"], first["_source"]),
    )


def story_doc(
    story_id: str, summary: StorySummary, now: str, linked_from: Collection[str] = ()
) -> dict[str, Any]:
    """The story document from the summary of all its members and the stories linking to
    it (pure)."""
    assert summary.first is not None, "a story document needs at least one member"
    first_id, first = summary.first
    return {
        "story_id": story_id,
        "first_article_id": first_id,
        "first_url": first.get("url"),
        "first_title": first.get("title"),
        "first_source": first.get("source"),
        "first_seen_at": seen_at(first).isoformat(),
        "updated_at": now if summary.updated_ms is None else _es_date(summary.updated_ms),
        "members": summary.members,
        "duplicates": summary.duplicates,
        "sources": sorted(summary.by_source),
        "languages": sorted(summary.by_language),
        "members_by_source": dict(summary.by_source),
        "members_by_language": dict(summary.by_language),
        "linked_stories": sorted((summary.links_to | set(linked_from)) - {story_id}),
    }


def touched(documents: Iterable[Mapping[str, Any]]) -> list[str]:
    """The stories these articles belong to or link to."""
    return sorted(
        {doc["story_id"] for doc in documents if doc.get("story_id")}
        | {link["story_id"] for doc in documents for link in doc.get("cross_lingual") or ()}
    )


def batch_story_docs(
    documents: Sequence[Mapping[str, Any]],
    indexed_at: str,
    indexed: Mapping[str, StorySummary],
    indexed_links: Mapping[str, Collection[str]],
) -> dict[str, dict[str, Any]]:
    """The documents of the stories ``documents`` (a batch about to be written with
    ``indexed_at``) belong or link to, from the summaries of the stories' other members
    (``indexed``) and of the stories linking to them (``indexed_links``) (pure)."""
    by_story: dict[str, list[Mapping[str, Any]]] = {}
    linked_from = {key: set(value) for key, value in indexed_links.items()}
    for doc in documents:
        if doc.get("story_id"):
            by_story.setdefault(doc["story_id"], []).append(doc)
            for link in doc.get("cross_lingual") or ():
                linked_from.setdefault(link["story_id"], set()).add(doc["story_id"])
    summaries = dict(indexed)
    for key, docs in by_story.items():
        summaries[key] = summaries.get(key, StorySummary()) + articles_summary(docs, indexed_at)
    return {
        key: story_doc(key, summaries[key], indexed_at, linked_from.get(key, ()))
        for key in touched(documents)
        if key in summaries
    }


@dataclass(frozen=True)
class PreparedStories:
    """A batch's story documents, derived before its write, by story id, and the version
    (``_seq_no``, ``_primary_term``) of each stored document they were derived against:
    None for a story that had no document."""

    docs: Mapping[str, Mapping[str, Any]]
    versions: Mapping[str, tuple[int, int] | None]


@dataclass(frozen=True)
class StoryWrites:
    """What writing a batch's story documents did: how many were written, and how many
    were derived again from their indexed members after the articles' write."""

    written: int = 0
    rederived: int = 0


def prepare_story_docs(
    es: Elasticsearch, names: IndexNames, documents: Sequence[Mapping[str, Any]], indexed_at: str
) -> PreparedStories:
    """The documents of the stories of articles about to be written with ``indexed_at``
    (after their story assignment): each story's members already indexed (one aggregation
    that leaves these articles out, so a batch written twice gives the same documents) plus
    these articles; no refresh and aggregation after the write.

    The stored documents' versions are read before the refresh and the aggregation: a
    batch that wrote its articles before the read is counted here, and one that writes its
    story document after it changes the version, so ``write_story_docs`` refuses ours."""
    wanted = touched(documents)
    if not wanted:
        return PreparedStories({}, {})
    versions = _versions(es, names, wanted)
    es.indices.refresh(index=names.articles)
    indexed, indexed_links = _aggregate(es, names, wanted, exclude=[d["_id"] for d in documents])
    return PreparedStories(
        batch_story_docs(documents, indexed_at, indexed, indexed_links), versions
    )


def write_story_docs(
    es: Elasticsearch,
    names: IndexNames,
    prepared: PreparedStories,
    failed: Iterable[Mapping[str, Any]] = (),
) -> StoryWrites:
    """Write a batch's prepared story documents once its articles are written (never
    before: a document counting articles not yet searchable would let another batch
    derive its own without them), each only if the stored one is still the version it was
    derived against, or still absent. A story another batch wrote in between, one whose
    write failed, and one of an article in ``failed`` (not written) are derived again from
    their indexed members."""
    stale = set(touched(failed))
    current = {key: doc for key, doc in prepared.docs.items() if key not in stale}
    refused, errors = _write_if_unchanged(es, names, current, prepared.versions)
    again = stale | refused | {key for key, _ in errors}
    written = len(current) - len(refused) - len(errors)
    return StoryWrites(written + update_story_docs(es, names, again), len(again))


def update_story_docs(es: Elasticsearch, names: IndexNames, story_ids: Iterable[str]) -> int:
    """Rewrite the story documents of ``story_ids`` from what is indexed; a story left
    without an indexed article loses its document. Each write is conditional on the
    version read before the aggregation, and a story written by another batch meanwhile
    is derived again (up to ``MAX_REDERIVE`` times). Returns the documents written."""
    pending = sorted(set(story_ids))
    written = 0
    for _ in range(MAX_REDERIVE):
        if not pending:
            return written
        versions = _versions(es, names, pending)
        docs = aggregated_story_docs(es, names, pending)
        gone = [key for key in pending if key not in docs and versions.get(key) is not None]
        refused, errors = _write_if_unchanged(es, names, docs, versions, gone)
        if errors:
            raise RuntimeError(f"story documents not written: {errors}")
        written += sum(1 for key in docs if key not in refused)
        pending = sorted(refused)
    raise RuntimeError(
        f"story documents {pending} rewritten by other batches {MAX_REDERIVE} times in a row"
    )


def repair_story_docs(es: Elasticsearch, names: IndexNames, since: datetime) -> int:
    """Rewrite the story documents that do not account for their articles indexed since
    ``since`` (and the stories those articles link to); returns the documents written.

    Story documents follow from indexed state, like alerts: a run that died between its
    articles' write and their stories', or whose story write failed, leaves documents that
    a retry does not mend (the batch's articles are then unchanged, and unchanged articles
    touch no story). A story is stale when it has no document, or its document's member
    count or latest ``indexed_at`` is not its indexed members'. Cheap when none is: one
    composite aggregation over the recent articles' stories, one terms aggregation over
    those stories' members and an mget of their documents."""
    es.indices.refresh(index=names.articles)
    recent = _recent_stories(es, names, since)
    stale: set[str] = set()
    keys = sorted(recent)
    for start in range(0, len(keys), REPAIR_CHUNK):
        chunk = keys[start : start + REPAIR_CHUNK]
        indexed = _member_counts(es, names, chunk)
        stored = es.mget(index=names.stories, ids=chunk, source=["members", "updated_at"])
        for doc in stored["docs"]:
            fields = doc.get("_source") or {}
            updated = fields.get("updated_at")
            seen = (fields.get("members"), _millis(updated) if updated else None)
            if not doc.get("found") or seen != indexed.get(doc["_id"]):
                stale.add(doc["_id"])
    if not stale:
        return 0
    again = stale | {linked for key in stale for linked in recent[key]}
    log.warning(
        "event=stories_stale stale=%d rewriting=%d (articles indexed without their stories)",
        len(stale),
        len(again),
    )
    return update_story_docs(es, names, again)


def _recent_stories(es: Elasticsearch, names: IndexNames, since: datetime) -> dict[str, set[str]]:
    """The stories of the articles indexed since ``since``, each with the stories those
    articles link to, paged through a composite aggregation."""
    stories: dict[str, set[str]] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {
            "size": REPAIR_CHUNK,
            "sources": [{"story": {"terms": {"field": "story_id"}}}],
        }
        if after is not None:
            composite["after"] = after
        response = es.search(
            index=names.articles,
            query={"range": {"indexed_at": {"gte": since.isoformat()}}},
            size=0,
            aggs={
                "stories": {
                    "composite": composite,
                    "aggs": {"linked": {"terms": {"field": "cross_lingual.story_id", "size": 100}}},
                }
            },
        )
        page = response["aggregations"]["stories"]
        for bucket in page["buckets"]:
            linked = {b["key"] for b in bucket["linked"]["buckets"]}
            stories[bucket["key"]["story"]] = linked
        after = page.get("after_key")
        if after is None or not page["buckets"]:
            return stories


def _member_counts(
    es: Elasticsearch, names: IndexNames, story_ids: Sequence[str]
) -> dict[str, tuple[int, int | None]]:
    """Each story's indexed member count and latest ``indexed_at`` (epoch ms), aggregated
    as a story document's ``members`` and ``updated_at`` are (``_STORY_AGGS``)."""
    response = es.search(
        index=names.articles,
        query={"terms": {"story_id": list(story_ids)}},
        size=0,
        aggs={
            "stories": {
                "terms": {"field": "story_id", "size": len(story_ids)},
                "aggs": {"updated": _STORY_AGGS["updated"]},
            }
        },
    )
    counts: dict[str, tuple[int, int | None]] = {}
    for bucket in response["aggregations"]["stories"]["buckets"]:
        latest = bucket["updated"].get("value")
        counts[bucket["key"]] = (bucket["doc_count"], None if latest is None else int(latest))
    return counts


def _versions(
    es: Elasticsearch, names: IndexNames, story_ids: Sequence[str]
) -> dict[str, tuple[int, int] | None]:
    """The stored version of each story document (None if it has none); real-time."""
    response = es.mget(index=names.stories, ids=list(story_ids), source=False)
    return {
        doc["_id"]: (doc["_seq_no"], doc["_primary_term"]) if doc.get("found") else None
        for doc in response["docs"]
    }


def _write_if_unchanged(
    es: Elasticsearch,
    names: IndexNames,
    docs: Mapping[str, Mapping[str, Any]],
    versions: Mapping[str, tuple[int, int] | None],
    gone: Sequence[str] = (),
) -> tuple[set[str], list[tuple[str, str]]]:
    """Write ``docs`` and delete ``gone``, each only if its stored version is still the one
    in ``versions``: the stories refused (another write came first), and other failures."""
    actions = [_conditional(names, key, versions.get(key), doc) for key, doc in docs.items()]
    actions += [_conditional(names, key, versions.get(key)) for key in gone]
    refused: set[str] = set()
    errors: list[tuple[str, str]] = []
    # The index in the request line too: a story write can be told from an article write
    # (in Elasticsearch's logs, and by the fault tests, which kill a run between the two).
    for ok, item in helpers.streaming_bulk(
        es,
        actions,
        index=names.stories,
        max_retries=3,
        raise_on_error=False,
        raise_on_exception=True,
    ):
        if ok:
            continue
        info = next(iter(item.values()))
        if info.get("status") == CONFLICT:
            log.info("event=story_conflict story=%s (written by another batch)", info["_id"])
            refused.add(info["_id"])
        else:
            reason = item_error(info)
            log.error("event=story_write_failed story=%s reason=%s", info["_id"], reason)
            errors.append((info["_id"], reason))
    return refused, errors


def _conditional(
    names: IndexNames,
    key: str,
    version: tuple[int, int] | None,
    doc: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A write of story ``key`` (a delete without ``doc``) that only succeeds on the stored
    ``version``; for a story without a document, one that only creates it."""
    action: dict[str, Any] = {"_index": names.stories, "_id": key}
    if doc is not None:
        action["_source"] = doc
    if version is None:
        return {**action, "_op_type": "create"}
    seq_no, primary_term = version
    return {
        **action,
        "_op_type": "index" if doc is not None else "delete",
        "if_seq_no": seq_no,
        "if_primary_term": primary_term,
    }


def aggregated_story_docs(
    es: Elasticsearch, names: IndexNames, story_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The documents of ``story_ids`` as their indexed articles make them, by story id."""
    wanted = sorted(set(story_ids))
    if not wanted:
        return {}
    es.indices.refresh(index=names.articles)
    summaries, linked_from = _aggregate(es, names, wanted)
    now = datetime.now(UTC).isoformat()
    return {
        key: story_doc(key, summary, now, linked_from.get(key, set()))
        for key, summary in summaries.items()
    }


def _aggregate(
    es: Elasticsearch, names: IndexNames, wanted: Sequence[str], exclude: Sequence[str] = ()
) -> tuple[dict[str, StorySummary], dict[str, set[str]]]:
    """The summaries of the indexed members of ``wanted`` stories (but ``exclude``), and
    the stories whose articles link to them across languages (a link is written on the
    later article only, so the earlier story learns of it here)."""
    members = {"terms": {"story_id": list(wanted)}}
    linking = {"terms": {"cross_lingual.story_id": list(wanted)}}
    response = es.search(
        index=names.articles,
        query={
            "bool": {
                "should": [members, linking],
                "minimum_should_match": 1,
                "must_not": [{"ids": {"values": list(exclude)}}],
            }
        },
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
                            "include": list(wanted),
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
    summaries = {
        bucket["key"]: bucket_summary(bucket)
        for bucket in aggregations["members"]["stories"]["buckets"]
    }
    return summaries, linked_from


def story(es: Elasticsearch, names: IndexNames, story_id: str) -> dict[str, Any] | None:
    response = es.options(ignore_status=404).get(index=names.stories, id=story_id)
    return dict(response["_source"]) if response.get("found") else None
