"""Digests: one message per watchlist and period (hourly or daily) listing its stories.

A watchlist with ``delivery: hourly`` or ``daily`` is not notified per alert. Its alerts
are stored as usual (one per story) and wait, undelivered; once their period is over, one
digest goes through the same channels, and every alert in it is then recorded as
delivered exactly as a single alert would be, so a failed channel is retried and a
delivered one is not called again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from news_ingest.text.watchlists import Watchlist

PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


def period_start(moment: datetime, delivery: str) -> datetime:
    """The start of the (UTC) hour or day ``moment`` falls in."""
    moment = moment.astimezone(UTC)
    if delivery == "hourly":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def due(alerts: Sequence[Mapping[str, Any]], delivery: str, now: datetime) -> list[dict[str, Any]]:
    """The alerts of periods that are over (alerted before the current one began)."""
    current = period_start(now, delivery)
    return [dict(a) for a in alerts if datetime.fromisoformat(a["alerted_at"]) < current]


def digest(watchlist: Watchlist, alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The message for these alerts, shaped like an alert so every channel can send it."""
    ordered = sorted(alerts, key=lambda a: a["alerted_at"])
    stories = [
        {
            "story_id": a.get("story_id"),
            "title": a.get("title"),
            "url": a.get("url"),
            "source": a.get("source"),
            "members": a.get("members") or 1,
            "also_reported_by": a.get("also_reported_by") or [],
            "links": [m.get("url") for m in a.get("also_reported") or []],
            **({"edited": a.get("revision")} if a.get("kind") == "edited" else {}),
        }
        for a in ordered
    ]
    ids = "\x1f".join(a["_id"] for a in ordered)
    # A channel counts as delivered for the digest only if it reached every alert in it.
    delivered = set.intersection(*(set(a.get("delivered") or []) for a in ordered))
    return {
        "_id": hashlib.sha256(f"{watchlist.id}\x1f{ids}".encode()).hexdigest()[:32],
        "digest": watchlist.delivery,
        "watchlist": watchlist.id,
        "watchlist_name": watchlist.name,
        "severity": watchlist.severity,
        "title": f"{len(stories)} stories ({watchlist.delivery} digest)",
        "url": stories[0]["url"],
        "snippet": "\n".join(_line(story) for story in stories),
        "stories": stories,
        "alerted_at": ordered[-1]["alerted_at"],
        "delivered": sorted(delivered),
    }


def _line(story: Mapping[str, Any]) -> str:
    also = story["also_reported_by"]
    others = f"; also reported by {', '.join(also)}" if also else ""
    if "edited" in story:
        return f"- edited (revision {story['edited']}): {story['title']} {story['url']}"
    return f"- {story['title']} ({story['members']} article(s){others}) {story['url']}"
