"""Watchlist alerts: one per (story, watchlist) pair, stored, then delivered.

The alert id is a hash of the pair (an article without a story counts as its own story)
and alerts are written with ``op_type=create``, so a re-run, an overlapping feed, a
changed article or another copy of the story never alerts twice. The first article of a
story makes the alert; later members matching the same watchlist are added to it
(``also_reported``, ``also_reported_by``, ``members``) and are not notified again. Alerts
follow from indexed state: every notify pass stores the alerts (and alert members) of
indexed articles that have none (``store_missing_alerts``), whatever crashed before.
Delivery is a separate state machine (``news_ingest.alerting.delivery``); digest
watchlists are delivered by ``news_ingest.alerting.digests``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
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
    "story_id",
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
        "_id": alert_id(watchlist.id, article.get("story_id") or article["_id"]),
        "story_id": article.get("story_id") or article["_id"],
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
        **new_alert_state(),
    }


def new_alert_state() -> dict[str, Any]:
    """A new alert's delivery state (reached no channel yet) and story fields (one article)."""
    return {
        "delivered": [],
        "notified": False,
        "state": "pending",
        "notify_attempts": 0,
        "members": 1,
        "also_reported": [],
        "also_reported_by": [],
    }


def for_story(alert: Mapping[str, Any], story_id: str) -> dict[str, Any]:
    """The alert keyed by the story its article joined at index time (matching happens in
    the extraction workers, before story assignment)."""
    return {**alert, "_id": alert_id(alert["watchlist"], story_id), "story_id": story_id}


def member_entry(alert: Mapping[str, Any]) -> dict[str, Any]:
    """What an alert keeps of a later article of its story."""
    keys = ("article_id", "url", "title", "source", "language", "published_at")
    return {key: alert.get(key) for key in keys}


def with_members(alert: Mapping[str, Any], members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The alert's member fields once ``members`` are added (pure; its own article and
    articles already listed are skipped, so adding twice changes nothing)."""
    listed = [dict(m) for m in alert.get("also_reported") or []]
    known = {alert.get("article_id"), *(m["article_id"] for m in listed)}
    for member in members:
        if member["article_id"] not in known:
            known.add(member["article_id"])
            listed.append(dict(member))
    sources = {m["source"] for m in listed if m.get("source")} - {alert.get("source")}
    return {
        "also_reported": listed,
        "also_reported_by": sorted(sources),
        "members": 1 + len(listed),
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
    """Create alerts that do not exist yet; returns the new ones (to deliver).

    Of several alerts with one id (members of one story), the earliest published is the
    alert and the others its members; an alert that already exists gets them as members.
    """
    ordered = sorted(alerts, key=lambda a: (a.get("published_at") or "", a["article_id"]))
    first: dict[str, dict[str, Any]] = {}
    later: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for alert in ordered:
        if alert["_id"] in first:
            later[alert["_id"]].append(member_entry(alert))
        else:
            first[alert["_id"]] = alert
    to_create = [
        {**alert, **with_members(alert, later.pop(alert["_id"], []))} for alert in first.values()
    ]
    actions = ({"_op_type": "create", "_index": names.alerts, **alert} for alert in to_create)
    created = []
    by_id = {alert["_id"]: alert for alert in to_create}
    for ok, item in helpers.streaming_bulk(
        es, actions, raise_on_error=False, max_retries=3, initial_backoff=1
    ):
        info = item["create"]
        if ok:
            created.append(by_id[info["_id"]])
        elif info.get("status") == 409:  # this (story, watchlist) already alerted
            alert = by_id[info["_id"]]
            later[alert["_id"]] = [member_entry(alert), *(alert["also_reported"])]
        else:
            raise RuntimeError(f"storing alert {info.get('_id')} failed: {info.get('error')}")
    add_members(es, names, later)
    return created


def add_members(
    es: Elasticsearch, names: IndexNames, members: Mapping[str, Sequence[Mapping[str, Any]]]
) -> int:
    """Add later articles of a story to its existing alerts, without notifying anyone."""
    wanted = {alert_id: m for alert_id, m in members.items() if m}
    if not wanted:
        return 0
    found = es.mget(index=names.alerts, ids=sorted(wanted))["docs"]
    actions = [
        {
            "_op_type": "update",
            "_index": names.alerts,
            "_id": doc["_id"],
            "doc": with_members(doc["_source"], wanted[doc["_id"]]),
        }
        for doc in found
        if doc.get("found")
    ]
    helpers.bulk(es, actions, max_retries=3, raise_on_error=True)
    return len(actions)


def undelivered_ids(es: Elasticsearch, names: IndexNames, exclude: Sequence[str] = ()) -> list[str]:
    """Alerts not delivered to every channel yet (pending, delivering, failed), but those
    of the ``exclude`` watchlists (digests)."""
    es.indices.refresh(index=names.alerts)  # see every alert stored or updated so far
    query: dict[str, Any] = {
        "query": {
            "bool": {
                "filter": [{"term": {"notified": False}}],
                "must_not": [{"terms": {"watchlist": list(exclude)}}],
            }
        },
        "_source": False,
    }
    return sorted(hit["_id"] for hit in helpers.scan(es, index=names.alerts, query=query))


def store_missing_alerts(
    es: Elasticsearch, names: IndexNames, watchlists: Sequence[Active], now: datetime
) -> int:
    """Store the alert of every indexed article with watchlist hits that has none, and add
    articles missing from their story's alert to it as members.

    Alerts follow from indexed state, not from what one run wrote: a run that died between
    its bulk write and its alerts, or a batch indexed again as unchanged, leaves articles
    whose alerts only this finds. Cheap when nothing is missing: one scan of the ids (story
    and watchlist ids) of matching articles and an mget of alert ids and members; only
    missing ones are matched again, from the stored text, with the versions in force now.
    Returns the number of alerts created.
    """
    es.indices.refresh(index=names.articles)
    expected: dict[str, list[tuple[str, str]]] = defaultdict(list)
    hits = helpers.scan(
        es,
        index=names.articles,
        query={"query": {"exists": {"field": "watchlists"}}, "_source": ["watchlists", "story_id"]},
        size=1000,
    )
    for hit in hits:
        story = hit["_source"].get("story_id") or hit["_id"]
        for watchlist_id in hit["_source"].get("watchlists") or []:
            expected[alert_id(watchlist_id, story)].append((hit["_id"], watchlist_id))
    missing = _missing_members(es, names.alerts, expected)
    by_id = {active.watchlist.id: active for active in watchlists}
    found: list[dict[str, Any]] = []
    for start in range(0, len(missing), 500):
        wanted: dict[str, set[str]] = defaultdict(set)
        for article_id, watchlist_id in missing[start : start + 500]:
            wanted[article_id].add(watchlist_id)
        articles = es.mget(index=names.articles, ids=sorted(wanted), source=ARTICLE_FIELDS)
        for doc in articles["docs"]:
            if not doc.get("found"):
                continue
            article = {"_id": doc["_id"], **doc["_source"]}
            lists = [by_id[w] for w in sorted(wanted[doc["_id"]]) if w in by_id]
            found.extend(stamped(alert, now) for alert in alerts_for(lists, article))
    created = store_alerts(es, names, found)
    if found:
        log.warning(
            "event=alerts_recovered created=%d members=%d (indexed without alerts)",
            len(created),
            len(found) - len(created),
        )
    return len(created)


def _missing_members(
    es: Elasticsearch, index: str, expected: Mapping[str, Sequence[tuple[str, str]]]
) -> list[tuple[str, str]]:
    """The (article, watchlist) pairs whose alert is missing or does not list the article."""
    ids = sorted(expected)
    missing: list[tuple[str, str]] = []
    fields = ["article_id", "also_reported.article_id"]
    for start in range(0, len(ids), 1000):
        response = es.mget(index=index, ids=ids[start : start + 1000], source=fields)
        for doc in response["docs"]:
            source = doc.get("_source") or {}
            known = {source.get("article_id")}
            known.update(m.get("article_id") for m in source.get("also_reported") or [])
            missing.extend(pair for pair in expected[doc["_id"]] if pair[0] not in known)
    return missing


def undelivered(
    es: Elasticsearch, names: IndexNames, watchlist_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The undelivered alerts of these watchlists, whole (for digests)."""
    es.indices.refresh(index=names.alerts)
    query = {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"notified": False}},
                    {"terms": {"watchlist": list(watchlist_ids)}},
                ]
            }
        }
    }
    return [
        {"_id": hit["_id"], **hit["_source"]}
        for hit in helpers.scan(es, index=names.alerts, query=query)
    ]


@dataclass
class AlertPage:
    rows: list[dict[str, Any]]  # each with its ``id``
    total: int
    watchlists: list[tuple[str, int]]  # alerts per watchlist, under the same filters


def alert_page(
    es: Elasticsearch,
    names: IndexNames,
    *,
    watchlist: str | None = None,
    since: str | None = None,
    start: int = 0,
    size: int = 50,
) -> AlertPage:
    """Alerts newest first, with their count per watchlist."""
    filters: list[dict[str, Any]] = []
    if since:
        filters.append({"range": {"alerted_at": {"gte": since}}})
    # The watchlist filter narrows the rows, not the per-watchlist counts beside them.
    chosen = {"term": {"watchlist": watchlist}} if watchlist else {"match_all": {}}
    response = es.search(
        index=names.alerts,
        query={"bool": {"filter": filters}},
        post_filter=chosen,
        aggs={"watchlists": {"terms": {"field": "watchlist", "size": 100}}},
        sort=[{"alerted_at": "desc"}],
        from_=start,
        size=size,
        track_total_hits=True,
    )
    return AlertPage(
        rows=[{"id": hit["_id"], **hit["_source"]} for hit in response["hits"]["hits"]],
        total=response["hits"]["total"]["value"],
        watchlists=[
            (b["key"], b["doc_count"]) for b in response["aggregations"]["watchlists"]["buckets"]
        ],
    )


def list_alerts(
    es: Elasticsearch,
    names: IndexNames,
    *,
    watchlist: str | None = None,
    since: str | None = None,
    size: int = 50,
) -> list[dict[str, Any]]:
    return alert_page(es, names, watchlist=watchlist, since=since, size=size).rows


def scan_articles(es: Elasticsearch, names: IndexNames) -> Iterator[dict[str, Any]]:
    """Every indexed article with the fields matching and alerting need (for backfills)."""
    for hit in helpers.scan(es, index=names.articles, _source=ARTICLE_FIELDS, size=500):
        yield {"_id": hit["_id"], **hit["_source"]}
