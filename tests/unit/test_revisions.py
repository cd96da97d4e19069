"""What changed between two versions of an article, and the revisit schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from news_ingest.extract.articles import content_hash, reads_the_same
from news_ingest.extract.boilerplate import page_hashes
from news_ingest.text.edits import describe_change, next_revisit, paragraphs, word_diff

OLD = {
    "title": "مقتل 40 شخصا في انفجار",
    "lede": "مقدمة",
    "body": "الفقرة الأولى وفيها 40 قتيلا.\n\nالفقرة الثانية.\n\nالفقرة الثالثة.",
}


def test_a_corrected_figure_and_an_added_paragraph() -> None:
    new = {
        **OLD,
        "title": "مقتل 42 شخصا في انفجار",
        "body": OLD["body"].replace("40 قتيلا", "42 قتيلا") + "\n\nتحديث: فقرة جديدة.",
    }
    change = describe_change(OLD, new)
    assert change["title_changed"] is True and change["lede_changed"] is False
    assert (change["paragraphs_added"], change["paragraphs_removed"]) == (1, 0)
    assert change["paragraphs_changed"] == 1
    assert "[-40-] {+42+}" in change["diff"] and "{+تحديث: فقرة جديدة.+}" in change["diff"]


def test_a_removed_paragraph() -> None:
    new = {**OLD, "body": "الفقرة الأولى وفيها 40 قتيلا.\n\nالفقرة الثالثة."}
    change = describe_change(OLD, new)
    assert (change["paragraphs_added"], change["paragraphs_removed"]) == (0, 1)
    assert change["paragraphs_changed"] == 0 and change["title_changed"] is False


def test_the_diff_is_short() -> None:
    old = " ".join(f"كلمة{n}" for n in range(2000))
    new = " ".join(f"كلمة{n}" if n % 7 else "بديل" for n in range(2000))
    diff = word_diff(old, new)
    assert len(diff) <= 600 and diff.endswith("…")


def test_revisits_follow_the_schedule_then_stop() -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    hours = (1.0, 6.0, 24.0, 72.0)
    assert next_revisit(first, first, hours) == first + timedelta(hours=1)
    assert next_revisit(first, first + timedelta(hours=1, minutes=5), hours) == first + timedelta(
        hours=6
    )
    assert next_revisit(first, first + timedelta(hours=30), hours) == first + timedelta(hours=72)
    assert next_revisit(first, first + timedelta(hours=73), hours) is None
    assert next_revisit(first, first, ()) is None


def test_a_listing_newer_than_the_stored_version_means_changed() -> None:
    from news_ingest.es.store import KnownArticle
    from news_ingest.pipeline import listing_is_newer

    stored = KnownArticle(
        "id", "2026-01-05T10:00:00+03:00", "2026-01-05T08:00:00+00:00", None, "feed"
    )
    assert listing_is_newer({"updated_at": "2026-01-05T07:30:00+00:00"}, stored)
    assert not listing_is_newer({"updated_at": "2026-01-05T10:00:00+03:00"}, stored)
    assert not listing_is_newer({"updated_at": None}, stored)
    unstamped = KnownArticle("id", None, "2026-01-05T08:00:00+00:00", None, None)
    assert listing_is_newer({"updated_at": datetime(2026, 1, 5, 9, tzinfo=UTC)}, unstamped)


def test_feed_times_keep_the_offset_the_feed_wrote() -> None:
    from news_ingest.crawl.feeds import parse_feed

    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><title>a</title><link href="https://example.org/a"/><id>a</id>
      <published>2026-01-05T10:00:00+03:00</published><updated>2026-01-05T12:30:00+03:00</updated>
      </entry></feed>"""
    (entry,) = parse_feed(body, "https://example.org/feed").entries
    assert entry.published_at is not None and entry.updated_at is not None
    assert entry.published_at.isoformat() == "2026-01-05T10:00:00+03:00"
    assert entry.updated_at.isoformat() == "2026-01-05T12:30:00+03:00"


def test_an_rss_item_without_an_update_time_has_none_on_either_parser() -> None:
    """feedparser's get("updated") falls back to the publication date: an item must not
    look updated (and so edited) for it, on the streaming path nor on feedparser's."""
    from news_ingest.crawl.feeds import parse_feed

    item = (
        "<item><title>a</title><link>https://example.org/a</link>"
        "<pubDate>Mon, 05 Jan 2026 10:00:00 +0300</pubDate></item>"
    )
    streamed = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{item}'
    salvaged = f'<?xml version="1.0" encoding="windows-1256"?><rss version="2.0"><channel>{item}'
    for body in (streamed + "</channel></rss>", salvaged + "</channel></rss>"):
        (entry,) = parse_feed(body.encode(), "https://example.org/feed").entries
        assert entry.published_at is not None
        assert entry.published_at.isoformat() == "2026-01-05T10:00:00+03:00"
        assert entry.updated_at is None


PROMO = "اشترك في نشرتنا البريدية لتصلك أهم الأخبار كل صباح."


def _version(body: str) -> dict[str, object]:
    doc: dict[str, object] = {**OLD, "body": body, "authors": [], "categories": []}
    doc["content_hash"] = content_hash(doc)
    return doc


def test_only_newly_learned_boilerplate_left_is_no_edit() -> None:
    stored = _version(OLD["body"] + "\n\n" + PROMO)
    page_lines = [*paragraphs(stored)]  # the page as fetched again: the same lines
    revisit = _version(OLD["body"])  # ... of which the promo is now dropped as learned
    hashes = page_hashes(page_lines)
    assert reads_the_same(stored, revisit, hashes)
    # Without the page's line hashes nothing tells a dropped line from a deleted one.
    assert not reads_the_same(stored, revisit, [])


def test_an_edit_is_an_edit_even_while_boilerplate_is_dropped() -> None:
    stored = _version(OLD["body"] + "\n\n" + PROMO)
    edited_body = OLD["body"].replace("40 قتيلا", "42 قتيلا")
    revisit = _version(edited_body)
    hashes = page_hashes([*edited_body.split("\n\n"), PROMO])
    assert not reads_the_same(stored, revisit, hashes)
    # A line the page itself lost (not dropped by us) is an edit too.
    shorter = _version("الفقرة الأولى وفيها 40 قتيلا.\n\nالفقرة الثالثة.")
    assert not reads_the_same(_version(OLD["body"]), shorter, page_hashes(paragraphs(shorter)))
