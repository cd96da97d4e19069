"""Watchlist alerts: one per (article, watchlist) pair, stored, then delivered.

The alert id is a hash of the pair and alerts are written with ``op_type=create``, so a
re-run, an overlapping feed or a changed article never alerts twice. Delivery is a separate
step: an alert whose channels did not all succeed keeps ``notified=false`` with the error
and is retried by the next run; channels that already succeeded are not called again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.text.watchlists import Watchlist, WatchlistMatch, load_watchlists, match_watchlist

log = logging.getLogger(__name__)

MATCH_FIELDS = ("title", "lede", "body")


@cache
def watchlists_in(config_dir: str) -> tuple[Watchlist, ...]:
    return tuple(load_watchlists(Path(config_dir) / "watchlists.yaml"))


def alert_id(watchlist_id: str, article_id: str) -> str:
    return hashlib.sha256(f"{watchlist_id}\x1f{article_id}".encode()).hexdigest()[:32]


def match_article(
    watchlists: Sequence[Watchlist], article: Mapping[str, Any]
) -> list[WatchlistMatch]:
    fields = {name: article.get(name) or "" for name in MATCH_FIELDS}
    return [m for w in watchlists if (m := match_watchlist(w, fields)) is not None]


def build_alert(
    watchlist: Watchlist, match: WatchlistMatch, article: Mapping[str, Any]
) -> dict[str, Any]:
    """The alert document for one match, without its time: see ``stamped``."""
    return {
        "_id": alert_id(watchlist.id, article["_id"]),
        "watchlist": watchlist.id,
        "watchlist_name": watchlist.name,
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
        "notify_attempts": 0,
    }


def _seconds_since(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round((now - moment).total_seconds(), 3)


def alerts_for(watchlists: Sequence[Watchlist], article: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The article's alerts, one per watchlist it matches, not yet stamped (pure)."""
    by_id = {w.id: w for w in watchlists}
    return [
        build_alert(by_id[m.watchlist_id], m, article) for m in match_article(watchlists, article)
    ]


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


def undelivered(es: Elasticsearch, names: IndexNames) -> Iterator[dict[str, Any]]:
    es.indices.refresh(index=names.alerts)  # see every alert stored or updated so far
    for hit in helpers.scan(es, index=names.alerts, query={"query": {"term": {"notified": False}}}):
        yield {"_id": hit["_id"], **hit["_source"]}


def record_delivery(
    es: Elasticsearch,
    names: IndexNames,
    alert: Mapping[str, Any],
    delivered: Sequence[str],
    errors: Sequence[str],
) -> None:
    now = datetime.now(UTC).isoformat()
    es.update(
        index=names.alerts,
        id=alert["_id"],
        doc={
            "delivered": list(delivered),
            "notified": not errors,
            "notified_at": now if not errors else None,
            "notify_error": "; ".join(errors) or None,
            "notify_attempts": int(alert.get("notify_attempts") or 0) + 1,
        },
    )


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
    fields = [
        *MATCH_FIELDS,
        "url",
        "canonical_url",
        "source",
        "language",
        "published_at",
        "fetched_at",
        "first_seen_at",
    ]
    for hit in helpers.scan(es, index=names.articles, _source=fields, size=500):
        yield {"_id": hit["_id"], **hit["_source"]}
