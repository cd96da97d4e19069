"""Earlier versions of edited articles, in ``<prefix>-revisions``.

When an article's content hash changes, the version it replaces is written here with what
changed (news_ingest.text.edits.describe_change) before the article is rewritten in place.
The record's id is the article id and the number of the version it held, so a retried
batch writes each revision once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.crawl.urls import canonicalize_url, document_id
from news_ingest.es.indices import IndexNames
from news_ingest.text.edits import describe_change

KEPT = ("url", "source", "title", "lede", "body", "content_hash", "published_at", "updated_at")


def revision_record(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The replaced version ``old`` of article ``new["_id"]``, with what ``new`` changed."""
    number = int(old.get("revision") or 0)
    return {
        "_id": f"{new['_id']}-{number}",
        "article_id": new["_id"],
        "revision": number,
        **{key: old.get(key) for key in KEPT},
        "indexed_at": old.get("indexed_at"),
        "replaced_at": new.get("edited_at") or datetime.now(UTC).isoformat(),
        "replaced_by_hash": new.get("content_hash"),
        "changes": describe_change(old, new),
    }


def save_revisions(
    es: Elasticsearch,
    names: IndexNames,
    replaced: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    """Write the replaced versions; one already written by an earlier try is left as is.
    Returns the records (written now or before)."""
    records = [revision_record(old, new) for old, new in replaced]
    actions = [{"_op_type": "create", "_index": names.revisions, **r} for r in records]
    for ok, item in helpers.streaming_bulk(
        es, actions, max_retries=5, initial_backoff=1, raise_on_error=False
    ):
        info = item["create"]
        if not ok and info.get("status") != 409:
            raise RuntimeError(f"revision {info.get('_id')} not written: {info.get('error')}")
    return records


def article_history(
    es: Elasticsearch, names: IndexNames, url: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The article at ``url`` (as indexed now) and its earlier versions, oldest first."""
    article_id = document_id(canonicalize_url(url))
    current = es.options(ignore_status=404).get(index=names.articles, id=article_id)
    if not current.get("found"):
        hits = es.search(
            index=names.articles, query={"term": {"url_keys": canonicalize_url(url)}}, size=1
        )["hits"]["hits"]
        if not hits:
            return None, []
        current = hits[0]
    article = {"_id": current["_id"], **current["_source"]}
    return article, revisions_of(es, names, current["_id"])


def revisions_of(es: Elasticsearch, names: IndexNames, article_id: str) -> list[dict[str, Any]]:
    """The earlier versions of an article, oldest first."""
    found = es.search(
        index=names.revisions,
        query={"term": {"article_id": article_id}},
        sort=[{"revision": "asc"}],
        size=1000,
    )
    return [hit["_source"] for hit in found["hits"]["hits"]]
