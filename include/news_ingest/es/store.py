"""Elasticsearch as the system of record: articles, crawl state and rejects.

Articles are written idempotently: the id is the hash of the canonical URL and the stored
``content_hash`` (computed with the document, ``extract.articles.content_hash``) decides
whether a document is rewritten, so re-running a day or meeting an article in two feeds
never duplicates it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, AuthorizationException, Elasticsearch, TransportError, helpers
from news_ingest.crawl.feeds import FeedValidators
from news_ingest.es import history
from news_ingest.es.indices import IndexNames
from news_ingest.local import localnode
from news_ingest.redaction import redact
from news_ingest.settings import Settings

log = logging.getLogger(__name__)

BULK_CHUNK = 500
# Statuses worth another try for a single bulk item; anything else is a bad document.
RETRYABLE_ITEM_STATUSES = frozenset({429, 502, 503, 504})


class StoreUnavailable(RuntimeError):
    """Elasticsearch cannot be reached or refuses our credentials: the run must stop."""


@dataclass
class IndexResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    written_ids: set[str] = field(default_factory=set)
    # The replaced versions of the articles rewritten (news_ingest.es.history).
    revisions: list[dict[str, Any]] = field(default_factory=list)


# Gets the new and changed articles and their ``indexed_at`` before they are written.
BeforeWrite = Callable[[list[dict[str, Any]], str], object]


def connect(settings: Settings) -> Elasticsearch:
    """A client for NEWS_INGEST_ES_URL, or the local node when it is unset; checked live."""
    if settings.es_url:
        url, user, password = settings.es_url, settings.es_user, settings.es_password
    else:
        url, user, password = localnode.local_connection(settings)
    options: dict[str, Any] = {"request_timeout": 30, "retry_on_timeout": True, "max_retries": 3}
    if settings.es_api_key:
        options["api_key"] = settings.es_api_key
    elif user and password:
        options["basic_auth"] = (user, password)
    if settings.es_ca_certs:
        options["ca_certs"] = str(settings.es_ca_certs)
    es = Elasticsearch(url, **options)
    try:
        # Cluster health, not GET /: the local integ-test node lacks the rest-root module.
        es.cluster.health()
    except AuthorizationException:
        pass  # authenticated, just not allowed `monitor` (e.g. the read-only analyst role)
    except ApiError as exc:
        raise StoreUnavailable(
            f"Elasticsearch at {redact(url)} refused the request ({exc.meta.status}): check "
            "NEWS_INGEST_ES_USER/NEWS_INGEST_ES_PASSWORD or NEWS_INGEST_ES_API_KEY"
        ) from None
    except TransportError as exc:
        hint = "start it with `news-ingest es start`" if not settings.es_url else "is it up?"
        raise StoreUnavailable(
            redact(f"Elasticsearch at {url} is unreachable ({exc}); {hint}")
        ) from None
    return es


@dataclass(frozen=True)
class KnownArticle:
    """What planning needs of an indexed article: whether a listing says it changed."""

    id: str
    updated_at: str | None
    fetched_at: str | None
    first_seen_at: str | None
    discovered_via: str | None


KNOWN_FIELDS = ["url_keys", "updated_at", "fetched_at", "first_seen_at", "discovered_via"]


def known_articles(
    es: Elasticsearch, names: IndexNames, keys: Sequence[str]
) -> dict[str, KnownArticle]:
    """The indexed articles these canonical URLs belong to, by URL."""
    found: dict[str, KnownArticle] = {}
    for start in range(0, len(keys), 1000):
        chunk = list(keys[start : start + 1000])
        response = es.search(
            index=names.articles,
            query={"terms": {"url_keys": chunk}},
            source_includes=KNOWN_FIELDS,
            size=len(chunk) * 2,
        )
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            known = KnownArticle(
                id=hit["_id"],
                updated_at=source.get("updated_at"),
                fetched_at=source.get("fetched_at"),
                first_seen_at=source.get("first_seen_at"),
                discovered_via=source.get("discovered_via"),
            )
            for key in set(source.get("url_keys", [])) & set(chunk):
                found[key] = known
    return found


def due_revisits(
    es: Elasticsearch, names: IndexNames, *, source: str, now: datetime, limit: int
) -> list[dict[str, Any]]:
    """The articles of ``source`` whose next revisit is due, the longest overdue first."""
    if limit <= 0:
        return []
    response = es.search(
        index=names.articles,
        query={
            "bool": {
                "filter": [
                    {"term": {"source": source}},
                    {"range": {"next_revisit_at": {"lte": now.isoformat()}}},
                ]
            }
        },
        sort=[{"next_revisit_at": "asc"}],
        source_includes=[
            "url",
            "canonical_url",
            "feed_url",
            "first_seen_at",
            "discovered_via",
            "published_at",
            "categories",
            "authors",
        ],
        size=limit,
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


# What an update keeps from the version it replaces, what a revision record stores, and
# what tells an edit from a change of learned boilerplate (extract.articles.content_hash).
PREVIOUS_FIELDS = [
    "url",
    "source",
    "title",
    "lede",
    "body",
    "authors",
    "categories",
    "content_hash",
    "published_at",
    "updated_at",
    "fetched_at",
    "indexed_at",
    "first_seen_at",
    "discovered_via",
    "revision",
    "edited_at",
]


def existing_versions(
    es: Elasticsearch, names: IndexNames, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The stored version of each of these ids that exists (content and times)."""
    if not ids:
        return {}
    response = es.mget(index=names.articles, ids=list(ids), source=PREVIOUS_FIELDS)
    return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}


def index_articles(
    es: Elasticsearch,
    names: IndexNames,
    documents: Sequence[dict[str, Any]],
    before_write: BeforeWrite | None = None,
    reads_the_same: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] | None = None,
) -> IndexResult:
    """Bulk-write new and changed articles (``_id`` in each document).

    An unchanged article (same content hash, or ``reads_the_same(stored, new)``) only gets
    its fetch time and next revisit moved. A changed one is rewritten in place (same id),
    its previous version saved to ``<prefix>-revisions`` first, so a crash in between
    leaves the old version indexed and the revision written once (its id is article id +
    revision number). ``before_write`` gets the documents about to be written (new or
    changed) and their ``indexed_at``, and may add fields to them: story assignment, which
    must not touch unchanged articles.
    """
    result = IndexResult()
    previous = existing_versions(es, names, [doc["_id"] for doc in documents])
    now = datetime.now(UTC).isoformat()
    actions: list[dict[str, Any]] = []
    to_write: list[dict[str, Any]] = []
    for doc in documents:
        old = previous.get(doc["_id"])
        if old is not None and (
            old.get("content_hash") == doc["content_hash"]
            or (reads_the_same is not None and reads_the_same(old, doc))
        ):
            result.unchanged += 1
            actions.append(_touch(names, doc))
        else:
            to_write.append(doc)
    if before_write is not None and to_write:
        before_write(to_write, now)
    replaced: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for doc in to_write:
        old = previous.get(doc["_id"])
        written = {**doc, "indexed_at": now}
        if old is not None:
            written.update(_carried_over(old, doc, now))
            replaced.append((old, written))
        actions.append({"_op_type": "index", "_index": names.articles, **written})
    records = history.save_revisions(es, names, replaced) if replaced else []
    for ok, item in helpers.streaming_bulk(
        es,
        actions,
        chunk_size=BULK_CHUNK,
        max_retries=5,
        initial_backoff=1,
        raise_on_error=False,
        raise_on_exception=True,
    ):
        op, info = next(iter(item.items()))
        if not ok:
            reason = item_error(info)
            log.error("event=index_failed id=%s reason=%s", info.get("_id"), reason)
            result.failed.append((info.get("_id", "?"), reason))
        elif op == "index":
            result.written_ids.add(info["_id"])
            if info["_id"] in previous:
                result.updated += 1
            else:
                result.created += 1
    result.revisions = [r for r in records if r["article_id"] in result.written_ids]
    return result


def _touch(names: IndexNames, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A revisit that found nothing new: only when it looked, and when to look next."""
    return {
        "_op_type": "update",
        "_index": names.articles,
        "_id": doc["_id"],
        "doc": {"fetched_at": doc.get("fetched_at"), "next_revisit_at": doc.get("next_revisit_at")},
    }


def _carried_over(old: Mapping[str, Any], new: Mapping[str, Any], now: str) -> dict[str, Any]:
    """What an edited article keeps from the version it replaces: when it was first seen
    and how, and its revision count (one more)."""
    first_seen = [t for t in (old.get("first_seen_at"), new.get("first_seen_at")) if t]
    return {
        "first_seen_at": min(first_seen, key=_instant) if first_seen else None,
        "discovered_via": old.get("discovered_via") or new.get("discovered_via"),
        "revision": int(old.get("revision") or 0) + 1,
        "edited_at": now,
    }


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def item_error(info: Mapping[str, Any]) -> str:
    """Why a bulk item failed, in one line of at most 500 characters."""
    error = info.get("error")
    if isinstance(error, Mapping):
        return f"{error.get('type')}: {error.get('reason')}"[:500]
    return str(error or f"status {info.get('status')}")[:500]


def refresh(es: Elasticsearch, names: IndexNames) -> None:
    es.indices.refresh(index=names.articles)


def feed_state(es: Elasticsearch, names: IndexNames, feed_url: str) -> dict[str, Any]:
    """What the last poll of ``feed_url`` recorded (empty for a feed never polled)."""
    response = es.options(ignore_status=404).get(index=names.feeds, id=_feed_id(feed_url))
    state: dict[str, Any] = response["_source"] if response.get("found") else {}
    return state


def feed_validators(state: Mapping[str, Any]) -> FeedValidators:
    return FeedValidators(
        etag=state.get("etag"),
        last_modified=state.get("last_modified"),
        body_sha256=state.get("body_sha256"),
    )


def save_feed_state(
    es: Elasticsearch, names: IndexNames, *, feed_url: str, source: str, state: Mapping[str, Any]
) -> None:
    es.update(
        index=names.feeds,
        id=_feed_id(feed_url),
        doc={"feed_url": feed_url, "source": source, **state},
        doc_as_upsert=True,
    )


def _feed_id(feed_url: str) -> str:
    return hashlib.sha256(feed_url.encode()).hexdigest()[:32]


def record_rejects(
    es: Elasticsearch,
    names: IndexNames,
    rejects: Iterable[Mapping[str, str]],
    *,
    source: str,
    run_id: str,
) -> int:
    """Upsert one record per (url, reason) so ops can list what a run skipped and why."""
    now = datetime.now(UTC).isoformat()
    actions = []
    for reject in rejects:
        doc = {
            "url": reject["url"],
            "stage": reject["stage"],
            "reason": reject["reason"],
            "detail": reject.get("detail", ""),
            "source": source,
            "run_id": run_id,
            "last_seen_at": now,
        }
        key = f"{reject['url']}\x1f{reject['reason']}"
        actions.append(
            {
                "_op_type": "update",
                "_index": names.rejects,
                "_id": hashlib.sha256(key.encode()).hexdigest()[:32],
                "doc": doc,
                "upsert": {**doc, "first_seen_at": now},
            }
        )
    if not actions:
        return 0
    written, _ = helpers.bulk(es, actions, max_retries=3, raise_on_error=True)
    return written


def list_rejects(
    es: Elasticsearch, names: IndexNames, *, source: str | None = None, size: int = 50
) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"term": {"source": source}} if source else {"match_all": {}}
    response = es.search(
        index=names.rejects, query=query, sort=[{"last_seen_at": "desc"}], size=size
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


def save_coverage(
    es: Elasticsearch,
    names: IndexNames,
    *,
    source: str,
    day: str,
    sitemap_articles: int,
    feed_articles: int,
    swept_articles: int,
    coverage: float | None,
    swept_at: datetime,
) -> None:
    """One document per source and day in ``<prefix>-feeds``: the daily sweep's finding."""
    es.index(
        index=names.feeds,
        id=f"coverage:{source}:{day}",
        document={
            "kind": "coverage",
            "source": source,
            "day": day,
            "sitemap_articles": sitemap_articles,
            "feed_articles": feed_articles,
            "swept_articles": swept_articles,
            "coverage": coverage,
            "swept_at": swept_at.isoformat(),
        },
    )


def list_coverage(
    es: Elasticsearch, names: IndexNames, *, source: str | None = None, size: int = 30
) -> list[dict[str, Any]]:
    """The latest days' feed coverage, newest first."""
    filters: list[dict[str, Any]] = [{"term": {"kind": "coverage"}}]
    if source:
        filters.append({"term": {"source": source}})
    response = es.search(
        index=names.feeds,
        query={"bool": {"filter": filters}},
        sort=[{"day": "desc"}, {"source": "asc"}],
        size=size,
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]
