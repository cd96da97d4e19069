"""Watchlist alerts: one per (article, watchlist) pair, stored, then delivered.

The alert id is a hash of the pair and alerts are written with ``op_type=create``, so a
re-run, an overlapping feed or a changed article never alerts twice. Alerts follow from
indexed state: every notify pass stores the alerts of indexed articles that have none
(``store_missing_alerts``), whatever crashed before. Delivery is a separate state machine
(``news_ingest.alerting.delivery``).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.alerting.watchlist_store import Active
from news_ingest.es.indices import IndexNames
from news_ingest.text.watchlists import Watchlist, WatchlistMatch, match_watchlist

log = logging.getLogger(__name__)

MATCH_FIELDS = ("title", "lede", "body")
# What matching and an alert document need of an article.
ARTICLE_FIELDS = [
    *MATCH_FIELDS,
    "url",
    "canonical_url",
    "source",
    "language",
    "published_at",
    "fetched_at",
    "first_seen_at",
]


def alert_id(watchlist_id: str, article_id: str) -> str:
    return hashlib.sha256(f"{watchlist_id}\x1f{article_id}".encode()).hexdigest()[:32]


def match_article(
    watchlists: Sequence[Watchlist], article: Mapping[str, Any]
) -> list[WatchlistMatch]:
    fields = {name: article.get(name) or "" for name in MATCH_FIELDS}
    return [m for w in watchlists if (m := match_watchlist(w, fields)) is not None]


def build_alert(
    active: Active, match: WatchlistMatch, article: Mapping[str, Any]
) -> dict[str, Any]:
    """The alert document for one match, without its time: see ``stamped``."""
    watchlist = active.watchlist
    return {
        "_id": alert_id(watchlist.id, article["_id"]),
        "watchlist": watchlist.id,
        "watchlist_name": watchlist.name,
        "watchlist_version": active.version,
        "severity": watchlist.severity,
        "article_id": article["_id"],
        "url": article.get("canonical_url") or article.get("url"),
        "title": article.get("title"),
        "source": article.get("source"),
        "language": article.get("language"),
        "matched": list(match.terms),
        "surface_forms": list(match.surface_forms),
        "field": match.field,
        "snippet": match.snippet,
        "published_at": article.get("published_at"),
        "fetched_at": article.get("fetched_at"),
        "first_seen_at": article.get("first_seen_at"),
        "channels": [channel.type for channel in watchlist.channels],
        "delivered": [],
        "notified": False,
        "state": "pending",
        "notify_attempts": 0,
    }


def _seconds_since(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round((now - moment).total_seconds(), 3)


def alerts_for(active: Sequence[Active], article: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The article's alerts, one per watchlist it matches, not yet stamped (pure)."""
    by_id = {a.watchlist.id: a for a in active}
    matches = match_article([a.watchlist for a in active], article)
    return [build_alert(by_id[m.watchlist_id], m, article) for m in matches]


def stamped(alert: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The alert as stored at ``now``: its time, and the delays since publication, since
    the pipeline first saw the URL listed (what polling and the pipeline cost, whatever the
    site's clock says), and since the fetch. Matching happens earlier, in the workers."""
    return {
        **alert,
        "alerted_at": now.isoformat(),
        "latency_published_seconds": _seconds_since(alert.get("published_at"), now),
        "latency_first_seen_seconds": _seconds_since(alert.get("first_seen_at"), now),
        "latency_fetched_seconds": _seconds_since(alert.get("fetched_at"), now),
    }


def store_alerts(
    es: Elasticsearch, names: IndexNames, alerts: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Create alerts that do not exist yet; returns the new ones (to deliver)."""
    by_id = {alert["_id"]: alert for alert in alerts}
    actions = ({"_op_type": "create", "_index": names.alerts, **alert} for alert in alerts)
    created = []
    for ok, item in helpers.streaming_bulk(
        es, actions, raise_on_error=False, max_retries=3, initial_backoff=1
    ):
        info = item["create"]
        if ok:
            created.append(by_id[info["_id"]])
        elif info.get("status") != 409:  # 409: this pair already alerted, as intended
            raise RuntimeError(f"storing alert {info.get('_id')} failed: {info.get('error')}")
    return created


def undelivered_ids(es: Elasticsearch, names: IndexNames) -> list[str]:
    """Alerts not delivered to every channel yet (pending, delivering, failed)."""
    es.indices.refresh(index=names.alerts)  # see every alert stored or updated so far
    query: dict[str, Any] = {"query": {"term": {"notified": False}}, "_source": False}
    return sorted(hit["_id"] for hit in helpers.scan(es, index=names.alerts, query=query))


def store_missing_alerts(
    es: Elasticsearch, names: IndexNames, watchlists: Sequence[Active], now: datetime
) -> int:
    """Store the alert of every indexed article with watchlist hits that has none.

    Alerts follow from indexed state, not from what one run wrote: a run that died between
    its bulk write and its alerts, or a batch indexed again as unchanged, leaves articles
    whose alerts only this finds. Cheap when nothing is missing: one scan of the ids (and
    watchlist ids) of matching articles and an mget of alert ids; only missing ones are
    matched again, from the stored text, with the versions in force now.
    """
    es.indices.refresh(index=names.articles)
    expected: dict[str, tuple[str, str]] = {}
    hits = helpers.scan(
        es,
        index=names.articles,
        query={"query": {"exists": {"field": "watchlists"}}, "_source": ["watchlists"]},
        size=1000,
    )
    for hit in hits:
        for watchlist_id in hit["_source"].get("watchlists") or []:
            expected[alert_id(watchlist_id, hit["_id"])] = (hit["_id"], watchlist_id)
    missing = _missing_ids(es, names.alerts, sorted(expected))
    by_id = {active.watchlist.id: active for active in watchlists}
    found: list[dict[str, Any]] = []
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        wanted: dict[str, set[str]] = defaultdict(set)
        for missing_id in chunk:
            article_id, watchlist_id = expected[missing_id]
            wanted[article_id].add(watchlist_id)
        articles = es.mget(index=names.articles, ids=sorted(wanted), source=ARTICLE_FIELDS)
        for doc in articles["docs"]:
            if not doc.get("found"):
                continue
            article = {"_id": doc["_id"], **doc["_source"]}
            lists = [by_id[w] for w in sorted(wanted[doc["_id"]]) if w in by_id]
            found.extend(stamped(alert, now) for alert in alerts_for(lists, article))
    created = store_alerts(es, names, found)
    if created:
        log.warning("event=alerts_recovered count=%d (indexed without alerts)", len(created))
    return len(created)


def _missing_ids(es: Elasticsearch, index: str, ids: Sequence[str]) -> list[str]:
    missing: list[str] = []
    for start in range(0, len(ids), 1000):
        response = es.mget(index=index, ids=list(ids[start : start + 1000]), source=False)
        missing.extend(doc["_id"] for doc in response["docs"] if not doc.get("found"))
    return missing


def list_alerts(
    es: Elasticsearch,
    names: IndexNames,
    *,
    watchlist: str | None = None,
    since: str | None = None,
    size: int = 50,
) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if watchlist:
        filters.append({"term": {"watchlist": watchlist}})
    if since:
        filters.append({"range": {"alerted_at": {"gte": since}}})
    response = es.search(
        index=names.alerts,
        query={"bool": {"filter": filters}},
        sort=[{"alerted_at": "desc"}],
        size=size,
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


def scan_articles(es: Elasticsearch, names: IndexNames) -> Iterator[dict[str, Any]]:
    """Every indexed article with the fields matching and alerting need (for backfills)."""
    for hit in helpers.scan(es, index=names.articles, _source=ARTICLE_FIELDS, size=500):
        yield {"_id": hit["_id"], **hit["_source"]}
