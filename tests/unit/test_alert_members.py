"""Alerts once per story (pure parts): keying by story, adding later members."""

from __future__ import annotations

from news_ingest.alerting.alerts import alert_id, for_story, member_entry, with_members

ALERT = {
    "_id": alert_id("karabakh", "a1"),
    "watchlist": "karabakh",
    "article_id": "a1",
    "story_id": "a1",
    "source": "sputnik_arabic",
    "url": "https://example.org/1",
}


def member(article_id: str, source: str) -> dict[str, object]:
    return member_entry({"article_id": article_id, "source": source, "url": f"u/{article_id}"})


def test_an_alert_is_keyed_by_the_story_its_article_joined() -> None:
    keyed = for_story({**ALERT, "article_id": "a2"}, "a1")
    assert keyed["_id"] == ALERT["_id"] and keyed["story_id"] == "a1"
    assert for_story(ALERT, "other")["_id"] != ALERT["_id"]


def test_members_are_added_once_and_never_the_alerts_own_article() -> None:
    added = with_members(ALERT, [member("a2", "other_site"), member("a1", "sputnik_arabic")])
    assert added["members"] == 2
    assert [m["article_id"] for m in added["also_reported"]] == ["a2"]
    assert added["also_reported_by"] == ["other_site"]
    again = with_members({**ALERT, **added}, [member("a2", "other_site"), member("a3", "x")])
    assert again["members"] == 3 and again["also_reported_by"] == ["other_site", "x"]
    # The alert's own source is not "also" reporting it.
    same_source = with_members(ALERT, [member("a4", "sputnik_arabic")])
    assert same_source["also_reported_by"] == [] and same_source["members"] == 2
