"""Move the articles to a new index generation without downtime (`news-ingest reindex`).

    1. put the current template, create ``<prefix>-articles-v(n+1)`` from it
    2. copy every article from ``-vn``, recomputing the folded ``norm.*`` copies (and the
       story fingerprint of articles indexed before stories existed)
    3. copy again what the pipeline wrote to ``-vn`` meanwhile (nothing else writes v(n+1) yet)
    4. swap the alias in one ``_aliases`` call (remove + add): readers and writers move at once
    5. add articles that reached ``-vn`` during the swap, never overwriting newer ones
    6. keep ``-vn`` for a rollback, unless ``drop_old`` (deleting needs more than news_writer)

The copy uses the ``_reindex`` API when the node has the ``reindex`` module and the old index
already holds folded copies of the current version. Otherwise (a node without the module,
such as the local integ-test node, or folding that changed) it streams through Python with
scan + bulk, which is also what recomputes ``norm.*``: ``_reindex`` cannot run Python.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.es import indices
from news_ingest.es.indices import IndexNames
from news_ingest.text.folding import FOLDING_VERSION, folded_fields
from news_ingest.text.stories import fingerprint

log = logging.getLogger(__name__)

REINDEX_MODULE = "reindex"
BATCH = 500
# Clock skew between pipeline workers (which stamp indexed_at) and this process.
CATCH_UP_MARGIN = timedelta(minutes=5)
_GENERATION = re.compile(r"-v(\d+)$")
FINGERPRINTS_SINCE = 3


class ReindexError(RuntimeError):
    """The migration stopped before the alias moved; readers still use the old index."""


@dataclass
class ReindexResult:
    source: str
    target: str
    method: str
    copied: int
    dropped: list[str] = field(default_factory=list)


def next_generation(names: IndexNames, current: str) -> str:
    """``news-articles-v3`` -> ``news-articles-v4``."""
    match = _GENERATION.search(current)
    if not current.startswith(names.articles) or match is None:
        raise ReindexError(f"{current} is not a versioned articles index ({names.articles}-vN)")
    return names.articles_version(int(match.group(1)) + 1)


def copy_method(modules: set[str], source_meta: dict[str, Any]) -> str:
    """``reindex-api`` only when the server-side copy would keep correct folded copies and
    story fingerprints (which articles carry from mapping version 3)."""
    if (
        REINDEX_MODULE in modules
        and source_meta.get("folding") == FOLDING_VERSION
        and source_meta.get("mapping_version", 0) >= FINGERPRINTS_SINCE
    ):
        return "reindex-api"
    return "scan-bulk"


def reindex(es: Elasticsearch, names: IndexNames, *, drop_old: bool = False) -> ReindexResult:
    modules = indices.node_modules(es)
    indices.put_articles_template(es, names)
    old = indices.articles_target(es, names)
    new = next_generation(names, old)
    if es.indices.exists(index=new):
        # Left by an interrupted run: copies overwrite by id, so it can be filled again.
        log.warning("event=reindex_resume index=%s exists and is not behind the alias", new)
    else:
        es.indices.create(index=new)
    method = copy_method(modules, indices.index_meta(es, old))
    es.indices.refresh(index=old)
    expected = es.count(index=old)["count"]
    started = datetime.now(UTC)
    copied = _copy(es, method, old, new)
    _copy(es, method, old, new, since=started)
    es.indices.refresh(index=new)
    found = es.count(index=new)["count"]
    if found < expected:
        raise ReindexError(f"{new} holds {found} of {expected} articles; the alias stays on {old}")
    swapped = datetime.now(UTC)
    es.indices.update_aliases(
        actions=[
            {"remove": {"index": old, "alias": names.articles}},
            {"add": {"index": new, "alias": names.articles, "is_write_index": True}},
        ]
    )
    _copy(es, method, old, new, since=swapped, create_only=True)
    es.indices.refresh(index=new)
    log.info("event=reindexed from=%s to=%s method=%s copied=%d", old, new, method, copied)
    result = ReindexResult(source=old, target=new, method=method, copied=copied)
    if drop_old:
        result.dropped = drop_old_generations(es, names)
    return result


def drop_old_generations(es: Elasticsearch, names: IndexNames) -> list[str]:
    """Delete every articles generation the alias does not point to."""
    current = indices.articles_target(es, names)
    old = sorted(
        index
        for index in es.indices.get(index=f"{names.articles}-v*", expand_wildcards="all")
        if index != current and _GENERATION.search(index)
    )
    if old:
        es.indices.delete(index=",".join(old))
        log.info("event=dropped_old_generations indices=%s", ",".join(old))
    return old


def _copy(
    es: Elasticsearch,
    method: str,
    old: str,
    new: str,
    *,
    since: datetime | None = None,
    create_only: bool = False,
) -> int:
    """Copy articles (those indexed since ``since``, when given) from ``old`` into ``new``.

    ``create_only`` skips articles ``new`` already has: after the swap they are newer there.
    """
    query: dict[str, Any] = (
        {"range": {"indexed_at": {"gte": (since - CATCH_UP_MARGIN).isoformat()}}}
        if since
        else {"match_all": {}}
    )
    op_type = "create" if create_only else "index"
    if method == "reindex-api":
        response = es.reindex(
            source={"index": old, "query": query},
            dest={"index": new, "op_type": op_type},
            conflicts="proceed",
            wait_for_completion=True,
            refresh=True,
        )
        return int(response["created"]) + int(response["updated"])
    copied = 0
    for ok, item in helpers.streaming_bulk(
        es,
        _actions(es, old, new, query, op_type),
        chunk_size=BATCH,
        max_retries=3,
        raise_on_error=False,
    ):
        info = item[op_type]
        if ok:
            copied += 1
        elif not (create_only and info.get("status") == 409):
            raise ReindexError(f"copying {info.get('_id')} into {new} failed: {info.get('error')}")
    return copied


def _actions(
    es: Elasticsearch, old: str, new: str, query: dict[str, Any], op_type: str
) -> Iterator[dict[str, Any]]:
    for hit in helpers.scan(es, index=old, query={"query": query}, size=BATCH):
        source = hit["_source"]
        source["norm"] = folded_fields(source)
        # Articles from before stories: fingerprinted now, each its own story (grouping
        # them would rewrite history the alerts already told).
        if "fingerprint" not in source:
            source["fingerprint"] = fingerprint(source["norm"]).as_fields()
        source.setdefault("story_id", hit["_id"])
        yield {"_op_type": op_type, "_index": new, "_id": hit["_id"], "_source": source}
