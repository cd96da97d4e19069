"""Edit alerts: an article a watchlist alerted on is edited, and the watchlist asked to hear.

A watchlist with ``edit_alerts: true`` gets one "edited" event per revision of an article
its alerts named (the story's alert is that article's, or lists it among its members),
made after the alert was raised. The event carries what the revision changed (title,
paragraphs added / removed / changed, a word-level diff: news_ingest.text.edits). It is an
alert document of ``kind: edited`` in ``<prefix>-alerts``, with an id derived from
(watchlist, article, revision) and written with ``op_type=create``, so the delivery state
machine sends it once, like any alert. Events follow from the stored revisions, as alerts
follow from indexed articles: the notify pass stores the events of recent revisions that
a crash left without theirs (``store_missing_edit_alerts``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.alerting.alerts import alert_id, new_alert_state
from news_ingest.es.indices import IndexNames
from news_ingest.text.watchlists import SNIPPET_CHARS

log = logging.getLogger(__name__)

EDITED = "edited"
# How far back the notify pass looks for revisions without their events: a crash is seen
# by the next run, minutes later; a week covers a scheduler that stayed down for days.
RECOVERY_WINDOW = timedelta(days=7)
# What an event keeps of the alert it follows (who is told, and why the article matched).
FROM_ALERT = (
    "watchlist",
    "watchlist_name",
    "watchlist_version",
    "severity",
    "story_id",
    "matched",
    "surface_forms",
    "field",
    "channels",
)
# What it takes from the article as edited.
FROM_ARTICLE = ("url", "title", "source", "language", "published_at", "first_seen_at")
ARTICLE_FIELDS = [*FROM_ARTICLE, "canonical_url", "fetched_at", "revision"]


def edit_alert_id(watchlist_id: str, article_id: str, revision: int) -> str:
    return alert_id(watchlist_id, f"{article_id}\x1frevision {revision}")


def names_article(alert: Mapping[str, Any], article_id: str) -> bool:
    """Whether the alert told its watchers about this article (its own or a member)."""
    members = alert.get("also_reported") or []
    return alert.get("article_id") == article_id or any(
        member.get("article_id") == article_id for member in members
    )


def edit_event(
    alert: Mapping[str, Any], record: Mapping[str, Any], article: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The "edited" event of one revision record for the watchlist of ``alert`` (pure).

    ``record`` is the replaced version (news_ingest.es.history.revision_record): the edit
    made version ``record["revision"] + 1``. Its latency is counted from the edit's
    discovery, so edits do not stretch the alerts' latency from publication.
    """
    revision = int(record["revision"]) + 1
    changes = record["changes"]
    edited_at = datetime.fromisoformat(record["replaced_at"])
    return {
        **{key: alert.get(key) for key in FROM_ALERT},
        **{key: article.get(key) for key in FROM_ARTICLE},
        "_id": edit_alert_id(alert["watchlist"], record["article_id"], revision),
        "kind": EDITED,
        "edit_of": alert["_id"],
        "article_id": record["article_id"],
        "url": article.get("canonical_url") or article.get("url"),
        "fetched_at": article.get("fetched_at"),
        "revision": revision,
        "changes": dict(changes),
        "edited_at": record["replaced_at"],
        "snippet": str(changes.get("diff") or "")[:SNIPPET_CHARS],
        "alerted_at": now.isoformat(),
        "latency_edited_seconds": round((now - edited_at).total_seconds(), 3),
        **new_alert_state(),
    }


def edit_events(
    alerts: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    articles: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """The events of these revision records for these alerts (pure).

    An event needs the edit to have landed (the article is past the replaced version: a
    revision is written before its article, and the article write can still fail) and to
    come after the alert (an alert raised from the edited text has nothing to correct).
    """
    events = []
    for record in records:
        article = articles.get(record["article_id"])
        if article is None or int(article.get("revision") or 0) <= int(record["revision"]):
            continue
        replaced_at = datetime.fromisoformat(record["replaced_at"])
        for alert in alerts:
            alerted_at = datetime.fromisoformat(alert["alerted_at"])
            if names_article(alert, record["article_id"]) and alerted_at < replaced_at:
                events.append(edit_event(alert, record, article, now))
    return events


def store_edit_alerts(
    es: Elasticsearch,
    names: IndexNames,
    watchlist_ids: Collection[str],
    records: Sequence[Mapping[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Create the events of these revision records for the watchlists that want them;
    returns the new ones (to deliver). An event that exists already is left as it is."""
    if not records or not watchlist_ids:
        return []
    article_ids = sorted({record["article_id"] for record in records})
    es.indices.refresh(index=names.alerts)
    found = helpers.scan(
        es,
        index=names.alerts,
        query={
            "query": {
                "bool": {
                    "filter": [{"terms": {"watchlist": sorted(watchlist_ids)}}],
                    "should": [
                        {"terms": {"article_id": article_ids}},
                        {"terms": {"also_reported.article_id": article_ids}},
                    ],
                    "minimum_should_match": 1,
                    "must_not": [{"term": {"kind": EDITED}}],
                }
            }
        },
    )
    alerts = [{"_id": hit["_id"], **hit["_source"]} for hit in found]
    if not alerts:
        return []
    response = es.mget(index=names.articles, ids=article_ids, source=ARTICLE_FIELDS)
    articles = {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}
    events = edit_events(alerts, records, articles, now)
    by_id = {event["_id"]: event for event in events}
    actions = ({"_op_type": "create", "_index": names.alerts, **e} for e in by_id.values())
    created = []
    for ok, item in helpers.streaming_bulk(
        es, actions, raise_on_error=False, max_retries=3, initial_backoff=1
    ):
        info = item["create"]
        if ok:
            created.append(by_id[info["_id"]])
        elif info.get("status") != 409:  # 409: this revision was announced already
            raise RuntimeError(f"storing edit alert {info.get('_id')} failed: {info.get('error')}")
    return created


def recent_revisions(es: Elasticsearch, names: IndexNames, since: datetime) -> list[dict[str, Any]]:
    """The revision records of edits made since ``since``."""
    es.indices.refresh(index=names.revisions)
    query = {"query": {"range": {"replaced_at": {"gte": since.isoformat()}}}}
    fields = ["article_id", "revision", "replaced_at", "changes"]
    return [
        hit["_source"]
        for hit in helpers.scan(es, index=names.revisions, query=query, _source=fields)
    ]


def store_missing_edit_alerts(
    es: Elasticsearch, names: IndexNames, watchlist_ids: Collection[str], now: datetime
) -> int:
    """Store the events of the last ``RECOVERY_WINDOW``'s revisions that have none (a run
    that died between its article write and its events); returns how many."""
    if not watchlist_ids:
        return 0
    created = store_edit_alerts(
        es, names, watchlist_ids, recent_revisions(es, names, now - RECOVERY_WINDOW), now
    )
    if created:
        per_watchlist: dict[str, int] = defaultdict(int)
        for event in created:
            per_watchlist[event["watchlist"]] += 1
        log.warning("event=edit_alerts_recovered created=%d %s", len(created), dict(per_watchlist))
    return len(created)
