"""Digests (pure): periods, which alerts are due, the message."""

from __future__ import annotations

from datetime import UTC, datetime

from news_ingest.alerting.digests import digest, due, period_start
from news_ingest.alerting.notify import payload
from news_ingest.text.watchlists import Watchlist

NOW = datetime(2026, 2, 3, 10, 20, tzinfo=UTC)
WATCHLIST = Watchlist.model_validate(
    {
        "id": "karabakh",
        "name": "Nagorno-Karabakh",
        "severity": "high",
        "terms": {"ar": ["قره باغ"]},
        "channels": [{"type": "log"}],
        "delivery": "hourly",
    }
)


def alert(number: int, alerted_at: str, **extra: object) -> dict[str, object]:
    return {
        "_id": f"a{number}",
        "story_id": f"s{number}",
        "title": f"خبر {number}",
        "url": f"https://example.org/{number}",
        "alerted_at": alerted_at,
        **extra,
    }


def test_periods_start_on_the_utc_hour_and_day() -> None:
    assert period_start(NOW, "hourly") == datetime(2026, 2, 3, 10, tzinfo=UTC)
    assert period_start(NOW, "daily") == datetime(2026, 2, 3, tzinfo=UTC)


def test_only_alerts_of_finished_periods_are_due() -> None:
    alerts = [alert(1, "2026-02-03T09:59:00+00:00"), alert(2, "2026-02-03T10:01:00+00:00")]
    assert [a["_id"] for a in due(alerts, "hourly", NOW)] == ["a1"]
    assert due(alerts, "daily", NOW) == []


def test_one_message_lists_the_stories_with_their_other_sources() -> None:
    alerts = [
        alert(2, "2026-02-03T09:30:00+00:00", delivered=["log"]),
        alert(
            1,
            "2026-02-03T09:10:00+00:00",
            members=3,
            also_reported_by=["other"],
            also_reported=[{"url": "https://other.example/x"}],
            delivered=["log", "webhook:x"],
        ),
    ]
    message = digest(WATCHLIST, alerts)
    assert message["title"] == "2 stories (hourly digest)"
    assert [story["story_id"] for story in message["stories"]] == ["s1", "s2"]
    assert message["stories"][0]["links"] == ["https://other.example/x"]
    assert "also reported by other" in message["snippet"]
    assert message["delivered"] == ["log"]  # only what reached every alert
    assert digest(WATCHLIST, list(reversed(alerts)))["_id"] == message["_id"]
    assert payload(message, "key")["stories"] == message["stories"]
