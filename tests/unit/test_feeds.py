from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from news_ingest.crawl import feeds
from news_ingest.crawl.feeds import FeedEntry, parse_feed, unique_entries
from news_ingest.local.fixturesite import FeedItem, rss_feed

FEED = "https://sarabic.ae/export/rss2/archive/index.xml"


def test_rss2_entries_with_dates_and_categories() -> None:
    body = rss_feed(
        [
            FeedItem(
                link="https://sarabic.ae/20201024/a-1.html?utm_source=rss",
                title="بوتين وماكرون",
                published=datetime(2020, 10, 24, 17, 8, tzinfo=UTC),
                categories=("العالم",),
            ),
            FeedItem(link="https://sarabic.ae/20201024/b-2.html", title="ب"),
        ],
        title="Sputnik",
        link="https://sarabic.ae/",
    )
    parsed = parse_feed(body, FEED)
    assert parsed.bozo is None
    first, second = parsed.entries
    assert first.canonical_url == "https://sarabic.ae/20201024/a-1.html"
    assert first.published_at == datetime(2020, 10, 24, 17, 8, tzinfo=UTC)
    assert first.categories == ("العالم",)
    assert first.feed_url == FEED
    assert second.published_at is None


def test_atom_feed() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
<updated>2020-10-24T17:08:00Z</updated>
<entry><title>Karabakh</title><id>urn:1</id><link href="https://sputnikglobe.com/a.html"/>
<updated>2020-10-24T17:08:00Z</updated><author><name>Staff</name></author></entry>
</feed>"""
    (entry,) = parse_feed(body, "https://sputnikglobe.com/feed.atom").entries
    assert entry.url == "https://sputnikglobe.com/a.html"
    assert entry.authors == ("Staff",)
    assert entry.published_at == datetime(2020, 10, 24, 17, 8, tzinfo=UTC)


def test_bozo_feed_keeps_readable_entries_and_reports_the_error() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>ok</title><link>https://sarabic.ae/ok.html</link></item>
<item><title>broken & unescaped</title><link>https://sarabic.ae/b.html</link></item>
</channel>"""
    parsed = parse_feed(body, FEED)
    assert parsed.bozo is not None
    assert [e.url for e in parsed.entries][:1] == ["https://sarabic.ae/ok.html"]


def test_html_page_served_as_feed_yields_nothing_and_a_reason() -> None:
    parsed = parse_feed(b"<html><body><p>Not a feed</p></body></html>", FEED)
    assert parsed.entries == []
    assert parsed.bozo


def test_entries_without_http_links_are_counted() -> None:
    body = rss_feed(
        [
            FeedItem(link="javascript:alert(1)", title="x"),
            FeedItem(link="https://a.example/1", title="y"),
        ],
        title="t",
        link="https://a.example/",
    )
    parsed = parse_feed(body, FEED)
    assert len(parsed.entries) == 1
    assert parsed.skipped == {"entry-without-link": 1}


def test_relative_links_resolve_against_the_feed() -> None:
    body = rss_feed([FeedItem(link="/20201024/a-1.html", title="x")], title="t", link="")
    (entry,) = parse_feed(body, FEED).entries
    assert entry.canonical_url == "https://sarabic.ae/20201024/a-1.html"


def test_unique_entries_keeps_first_per_canonical_url() -> None:
    body = rss_feed(
        [
            FeedItem(link="https://sarabic.ae/a.html", title="first"),
            FeedItem(link="https://SARABIC.ae/a.html?utm_medium=x#top", title="again"),
        ],
        title="t",
        link="https://sarabic.ae/",
    )
    (entry,) = unique_entries(parse_feed(body, FEED).entries)
    assert entry.title == "first"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_feed_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    parsed = parse_feed(body, FEED)
    assert all(e.canonical_url.startswith("http") for e in parsed.entries)


def _feedparser_only(body: bytes, monkeypatch: pytest.MonkeyPatch) -> list[FeedEntry]:
    with monkeypatch.context() as patched:
        patched.setattr(feeds, "_parse_streaming", lambda *_: None)
        return feeds.parse_feed(body, FEED).entries


def test_streaming_parser_reads_what_feedparser_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [
        FeedItem(
            link=f"https://sarabic.ae/2024/{i}.html?utm_source=rss",
            title=f"قره باغ {i} &amp; <b>",
            published=datetime(2024, 3, 1, 12, i, tzinfo=UTC),
            description="ملخص",
            categories=("العالم", "سياسة"),
        )
        for i in range(30)
    ]
    rss = rss_feed([*items, FeedItem(link="/relative.html", title="r")], title="t", link="")
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
<entry><title>A</title><id>urn:1</id><link rel="alternate" href="/a.html"/>
<published>2020-10-24T17:08:00+03:00</published><category term="x"/>
<author><name>Staff</name></author></entry></feed>"""
    for body in (rss, atom):
        fast = feeds._parse_streaming(body, FEED, "application/xml")
        assert fast is not None  # really the streaming path
        assert parse_feed(body, FEED).entries == _feedparser_only(body, monkeypatch)


def test_streaming_parser_leaves_doctypes_and_other_charsets_to_feedparser() -> None:
    body = rss_feed([FeedItem(link="https://a.example/1", title="y")], title="t", link="")
    doctype = body.replace(b"<rss", b"<!DOCTYPE rss><rss", 1)
    assert feeds._parse_streaming(doctype, FEED, "application/xml") is None
    assert feeds._parse_streaming(body, FEED, "text/xml; charset=windows-1256") is None
    assert len(parse_feed(doctype, FEED).entries) == 1
