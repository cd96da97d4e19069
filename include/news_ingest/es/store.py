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


def known_url_keys(es: Elasticsearch, names: IndexNames, keys: Sequence[str]) -> set[str]:
    """Which of these canonical URLs already belong to an indexed article."""
    found: set[str] = set()
    for start in range(0, len(keys), 1000):
        chunk = list(keys[start : start + 1000])
        response = es.search(
            index=names.articles,
            query={"terms": {"url_keys": chunk}},
            source_includes=["url_keys"],
            size=len(chunk) * 2,
        )
        for hit in response["hits"]["hits"]:
            found.update(set(hit["_source"].get("url_keys", [])) & set(chunk))
    return found


def existing_hashes(es: Elasticsearch, names: IndexNames, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    response = es.mget(index=names.articles, ids=list(ids), source=["content_hash"])
    return {
        doc["_id"]: doc["_source"].get("content_hash", "")
        for doc in response["docs"]
        if doc.get("found")
    }


def index_articles(
    es: Elasticsearch,
    names: IndexNames,
    documents: Sequence[dict[str, Any]],
    before_write: Callable[[list[dict[str, Any]]], object] | None = None,
) -> IndexResult:
    """Bulk-write new and changed articles (``_id`` in each document); skip unchanged ones.

    ``before_write`` gets the documents about to be written (new or changed), and may add
    fields to them: story assignment, which must not touch unchanged articles."""
    result = IndexResult()
    previous = existing_hashes(es, names, [doc["_id"] for doc in documents])
    to_write = []
    for doc in documents:
        old = previous.get(doc["_id"])
        if old == doc["content_hash"]:
            result.unchanged += 1
        else:
            to_write.append(doc)
    if before_write is not None and to_write:
        before_write(to_write)
    now = datetime.now(UTC).isoformat()
    actions = (
        {"_op_type": "index", "_index": names.articles, **doc, "indexed_at": now}
        for doc in to_write
    )
    for ok, item in helpers.streaming_bulk(
        es,
        actions,
        chunk_size=BULK_CHUNK,
        max_retries=5,
        initial_backoff=1,
        raise_on_error=False,
        raise_on_exception=True,
    ):
        info = item["index"]
        if ok:
            result.written_ids.add(info["_id"])
            if info["_id"] in previous:
                result.updated += 1
            else:
                result.created += 1
        else:
            reason = _item_error(info)
            log.error("event=index_failed id=%s reason=%s", info.get("_id"), reason)
            result.failed.append((info.get("_id", "?"), reason))
    return result


def _item_error(info: Mapping[str, Any]) -> str:
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
