"""Edit alerts (news_ingest.alerting.edits): which revisions of which alerts' articles make
an "edited" event, and what the event says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from news_ingest.alerting import digests, notify
from news_ingest.alerting.edits import edit_alert_id, edit_event, edit_events
from news_ingest.text.edits import describe_change
from news_ingest.text.watchlists import Watchlist

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
OLD = {"title": "مقتل 40 شخصا في قره باغ", "lede": "مقدمة", "body": "الفقرة الأولى."}
NEW = {"title": "مقتل 42 شخصا في قره باغ", "lede": "مقدمة", "body": "الفقرة الأولى.\n\nتحديث."}


def alert(**fields: Any) -> dict[str, Any]:
    return {
        "_id": "alert-1",
        "watchlist": "karabakh",
        "watchlist_name": "Nagorno-Karabakh",
        "watchlist_version": 2,
        "severity": "high",
        "story_id": "a1",
        "article_id": "a1",
        "matched": ["قره باغ"],
        "surface_forms": ["قره باغ"],
        "channels": ["webhook"],
        "alerted_at": "2026-01-05T09:00:00+00:00",
        "delivered": ["webhook:x"],
        "notified": True,
        "also_reported": [],
        **fields,
    }


def record(
    article_id: str = "a1", revision: int = 0, at: str = "2026-01-05T11:00:00+00:00"
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "revision": revision,
        "replaced_at": at,
        "changes": describe_change(OLD, NEW),
    }


def article(revision: int = 1) -> dict[str, Any]:
    return {
        "url": "https://sarabic.ae/20260105/a1.html",
        "title": NEW["title"],
        "source": "sputnik_arabic",
        "language": "ar",
        "published_at": "2026-01-05T08:55:00+00:00",
        "first_seen_at": "2026-01-05T08:58:00+00:00",
        "revision": revision,
    }


def test_the_event_names_the_revision_it_made_and_what_changed() -> None:
    event = edit_event(alert(), record(), article(), NOW)
    assert event["_id"] == edit_alert_id("karabakh", "a1", 1)
    assert (event["kind"], event["revision"], event["edit_of"]) == ("edited", 1, "alert-1")
    assert event["title"] == NEW["title"] and event["watchlist_version"] == 2
    assert event["changes"]["title_changed"] and event["changes"]["paragraphs_added"] == 1
    assert "[-40-] {+42+}" in event["snippet"]
    # Undelivered, whatever the alert it follows had reached.
    assert (event["state"], event["delivered"], event["notified"]) == ("pending", [], False)
    assert event["latency_edited_seconds"] == 3600.0
    assert "latency_published_seconds" not in event


def test_each_revision_of_each_watchlist_is_its_own_event() -> None:
    ids = {
        edit_alert_id("karabakh", "a1", 1),
        edit_alert_id("karabakh", "a1", 2),
        edit_alert_id("armenia", "a1", 1),
        edit_alert_id("karabakh", "a2", 1),
    }
    assert len(ids) == 4
    assert edit_alert_id("karabakh", "a1", 1) == edit_alert_id("karabakh", "a1", 1)


def test_a_member_of_the_story_counts_as_alerted_on() -> None:
    story_alert = alert(article_id="a0", also_reported=[{"article_id": "a1"}])
    assert len(edit_events([story_alert], [record()], {"a1": article()}, NOW)) == 1
    other = alert(article_id="a0", also_reported=[{"article_id": "a9"}])
    assert edit_events([other], [record()], {"a1": article()}, NOW) == []


def test_an_edit_before_the_alert_or_not_yet_written_makes_no_event() -> None:
    earlier = record(at="2026-01-05T08:59:00+00:00")  # alerted at 09:00 on the edited text
    assert edit_events([alert()], [earlier], {"a1": article()}, NOW) == []
    # The revision record is written before its article; until the article is past that
    # version the edit has not landed.
    assert edit_events([alert()], [record()], {"a1": article(revision=0)}, NOW) == []
    assert edit_events([alert()], [record()], {}, NOW) == []


def test_the_message_says_it_is_an_edit() -> None:
    event = {**edit_event(alert(), record(), article(), NOW)}
    assert "edited (revision 1): مقتل 42" in notify.summary(event)
    body = notify.payload(event, "key")
    assert body["kind"] == "edited" and body["revision"] == 1
    assert body["changes"]["title_changed"] is True and body["edit_of"] == "alert-1"
    assert "kind" not in notify.payload(alert(), "key")


def test_a_digest_lists_an_edit_as_one() -> None:
    watchlist = Watchlist.model_validate(
        {
            "id": "karabakh",
            "name": "Nagorno-Karabakh",
            "severity": "high",
            "terms": {"ar": ["قره باغ"]},
            "channels": [{"type": "log"}],
            "delivery": "daily",
            "edit_alerts": True,
        }
    )
    event = {**edit_event(alert(), record(), article(), NOW)}
    message = digests.digest(watchlist, [alert(delivered=[]), event])
    assert message["stories"][1]["edited"] == 1
    assert "- edited (revision 1): مقتل 42" in message["snippet"]
