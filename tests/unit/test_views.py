"""The views' pure parts: marked segments, relative links, facet toggles, delivery states,
feed flags and extraction drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from news_ingest.pipeline import FeedPoll, with_streak
from news_ingest.text.watchlists import Watchlist
from news_ingest.views.health import Quality, Thresholds, feed_health, quality, quality_flags
from news_ingest.views.pages import (
    Segment,
    channel_states,
    may_retry,
    retry_outcome,
    root_of,
    segments,
    toggled,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_segments_mark_spans_and_merge_overlaps() -> None:
    assert segments("في قره باغ اليوم", [(3, 6), (7, 10), (5, 8)]) == [
        Segment("في ", False),
        Segment("قره باغ", True),
        Segment(" اليوم", False),
    ]
    assert segments("", []) == [Segment("", False)]
    assert segments("abc", [(0, 3)]) == [Segment("abc", True)]
    assert segments("abc", [(2, 99), (-4, 1)]) == [
        Segment("a", True),
        Segment("b", False),
        Segment("c", True),
    ]


def test_links_are_relative_to_where_the_page_is() -> None:
    assert root_of("/search") == "./"
    assert root_of("/article/abc") == "../"
    assert root_of("/alerts/abc/retry") == "../../"


def test_a_facet_toggles_on_and_off_and_resets_the_page() -> None:
    params = {"q": "قرة باغ", "language": ["ar"], "page": "3", "source": []}
    assert toggled(params, "language", "en") == (
        "q=%D9%82%D8%B1%D8%A9+%D8%A8%D8%A7%D8%BA&language=ar&language=en"
    )
    assert toggled(params, "language", "ar") == "q=%D9%82%D8%B1%D8%A9+%D8%A8%D8%A7%D8%BA"


def watchlist() -> Watchlist:
    return Watchlist.model_validate(
        {
            "id": "w",
            "name": "W",
            "severity": "high",
            "terms": {"en": ["Karabakh"]},
            "channels": [{"type": "log"}, {"type": "webhook", "url": "https://hooks.example/x"}],
        }
    )


def test_channel_states_per_channel() -> None:
    alert = {
        "state": "failed",
        "delivered": ["log"],
        "notify_attempts": 2,
        "notify_error": "webhook:https://hooks.example/x: DeliveryError: answered 503",
    }
    states = channel_states(alert, watchlist())
    assert [(s.channel, s.state, s.error) for s in states] == [
        ("log", "delivered", None),
        ("webhook:https://hooks.example/x", "failed", "DeliveryError: answered 503"),
    ]
    fresh = channel_states({"state": "pending", "delivered": [], "notify_attempts": 0}, watchlist())
    assert {s.state for s in fresh} == {"pending"}
    claimed = channel_states({**alert, "state": "delivering"}, watchlist())
    assert [s.state for s in claimed] == ["delivered", "delivering"]
    gone = channel_states({"state": "failed", "delivered": ["log"], "notify_attempts": 1}, None)
    assert [s.state for s in gone] == ["delivered", "failed"]


def test_an_operator_may_retry_what_no_live_claim_holds() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    later = (now + timedelta(minutes=1)).isoformat()
    earlier = (now - timedelta(minutes=1)).isoformat()
    # Spent attempts stop the notify passes, not an operator.
    assert may_retry({"state": "failed", "notify_attempts": 99}, now)
    assert may_retry({"state": "pending"}, now)
    assert may_retry({"state": "delivering", "lease_expires_at": earlier}, now)
    assert not may_retry({"state": "delivering", "lease_expires_at": later}, now)
    assert not may_retry({"state": "delivered", "notified": True}, now)
    assert not may_retry({"notified": True}, now)  # stored before the state machine


def test_retry_outcome_names_what_happened() -> None:
    assert retry_outcome({"notified": 1}) == "delivered"
    assert retry_outcome({"notify_failed": 1}) == "failed"
    assert retry_outcome({"notify_skipped": 1}).startswith("not retried")


def test_failure_streak_counts_failed_polls_in_a_row() -> None:
    failed = FeedPoll("u", [], {"feeds_failed": 1}, {"polled_at": "t2", "last_error": "500"})
    once = with_streak(failed, {})
    twice = with_streak(failed, once.state)
    assert (once.state["failure_streak"], twice.state["failure_streak"]) == (1, 2)
    assert twice.state["last_failure_at"] == "t2"
    ok = with_streak(FeedPoll("u", [], {"feeds_unchanged": 1}, {"polled_at": "t3"}), twice.state)
    assert ok.state["failure_streak"] == 0 and ok.state["last_success_at"] == "t3"


def test_feed_flags_failing_and_stale() -> None:
    thresholds = Thresholds(max_lag=timedelta(hours=48))
    state = {"feed_url": "u", "source": "s", "failure_streak": 2, "last_error": "status 500"}
    fresh = {"newest_entry_at": (NOW - timedelta(hours=1)).isoformat(), "entries_24h": 5}
    row = feed_health(state, fresh, NOW, thresholds)
    assert row.flags == ["failing (2 poll(s) in a row)"] and row.lag_seconds == 3600
    old = {"newest_entry_at": (NOW - timedelta(days=3)).isoformat()}
    stale = feed_health({**state, "failure_streak": 0}, old, NOW, thresholds)
    assert stale.flags == ["stale (newest entry 72 h old)"]
    assert feed_health({**state, "failure_streak": 0}, fresh, NOW, thresholds).flags == []


def test_quality_counts_rejects_as_pages_without_text() -> None:
    figures = quality({"pages": 6, "words": 412.34, "no-lede": 3, "short-body": 0}, no_text=2)
    assert figures.pages == 8
    assert figures.shares == {
        "no-lede": 3 / 8,
        "short-body": 0.0,
        "profile-body-not-found": 0.0,
        "no-article-text": 2 / 8,
    }
    assert figures.mean_body_words == 412.3
    assert quality(None, 0) == Quality()


def test_drift_against_the_baseline() -> None:
    thresholds = Thresholds(drift=0.25)
    baseline = quality({"pages": 100, "words": 400, "no-lede": 5, "short-body": 10}, 0)
    same = quality({"pages": 10, "words": 390, "no-lede": 1, "short-body": 1}, 0)
    assert quality_flags(same, baseline, thresholds) == []
    drifted = quality({"pages": 10, "words": 150, "profile-body-not-found": 9, "no-lede": 9}, 0)
    assert quality_flags(drifted, baseline, thresholds) == [
        "no-lede: 90% of pages, baseline 5%",
        "profile-body-not-found: 90% of pages, baseline 0%",
        "body length: 150 words, baseline 400",
    ]
    # Two pages say nothing yet; a new source (no baseline) is judged on its own.
    assert quality_flags(quality({"pages": 2, "no-lede": 2}, 0), baseline, thresholds) == []
    lone = quality({"pages": 4, "words": 300}, no_text=4)
    assert quality_flags(lone, Quality(), thresholds) == [
        "no-article-text: 50% of pages (no 7-day baseline yet)"
    ]
