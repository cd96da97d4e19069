"""Sitemap parsing: url sets, indexes, gzip, the news extension, and what is refused."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from news_ingest.crawl.archive import Window, run_window, sitemap_roots
from news_ingest.crawl.sitemaps import (
    SitemapRejected,
    dated_urls,
    parse_sitemap,
    parse_w3c_datetime,
)
from news_ingest.local.fixturesite import SitemapEntry, sitemap_index_xml, urlset_xml

SITE = "https://sarabic.ae"
CAP = 1_000_000


def test_news_sitemap_entries_keep_dates_titles_and_offsets() -> None:
    published = datetime(2026, 1, 5, 10, 30, tzinfo=timezone(timedelta(hours=3)))
    body = urlset_xml(
        [SitemapEntry(f"{SITE}/20260105/a-1.html?utm_source=x", published, published, "عنوان")]
    )
    parsed = parse_sitemap(body, f"{SITE}/sitemap_article.xml", max_bytes=CAP)
    (entry,) = parsed.urls
    assert entry.canonical_url == f"{SITE}/20260105/a-1.html"
    assert entry.published_at == published and entry.published_at.utcoffset() == timedelta(hours=3)
    assert entry.title == "عنوان" and entry.lastmod == published
    assert not parsed.is_index


def test_gzipped_index_lists_children_with_lastmod() -> None:
    when = datetime(2026, 1, 31, tzinfo=UTC)
    body = gzip.compress(sitemap_index_xml([(f"{SITE}/sitemaps/2026-01.xml.gz", when)]))
    parsed = parse_sitemap(body, f"{SITE}/sitemap_index.xml", max_bytes=CAP)
    assert parsed.is_index and parsed.children[0].lastmod == when


def test_foreign_hosts_and_bad_entries_are_counted_not_kept() -> None:
    body = urlset_xml(
        [
            SitemapEntry(f"{SITE}/a.html"),
            SitemapEntry("https://www.sarabic.ae/b.html"),  # www. is the same site
            SitemapEntry("https://evil.example/c.html"),
            SitemapEntry("javascript:alert(1)"),
        ]
    )
    parsed = parse_sitemap(body, f"{SITE}/s.xml", max_bytes=CAP)
    assert [u.url for u in parsed.urls] == [f"{SITE}/a.html", "https://www.sarabic.ae/b.html"]
    assert parsed.skipped == {"foreign-host": 1, "bad-url": 1}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>", "malformed"),
        (b"<html><body>not a sitemap</body></html>", "not-a-sitemap"),
        (b"", "malformed"),
        (b"\x1f\x8b\x08\x00garbage", "malformed"),
        (gzip.compress(urlset_xml([]))[:-8], "malformed"),  # truncated gzip
    ],
)
def test_bad_documents_are_rejected_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(SitemapRejected) as caught:
        parse_sitemap(body, f"{SITE}/s.xml", max_bytes=CAP)
    assert caught.value.reason == reason


def test_an_index_listing_itself_is_rejected() -> None:
    body = sitemap_index_xml([(f"{SITE}/sitemap_index.xml", None)])
    with pytest.raises(SitemapRejected) as caught:
        parse_sitemap(body, f"{SITE}/sitemap_index.xml", max_bytes=CAP)
    assert caught.value.reason == "self-reference"


def test_a_gzip_bomb_is_refused_before_it_is_inflated() -> None:
    # 200 MB of whitespace inside a valid url set, built without holding it in memory.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    parts = [packer.compress(head), *(packer.compress(b" " * 1_000_000) for _ in range(200))]
    bomb = b"".join([*parts, packer.compress(b"</urlset>"), packer.flush()])
    assert len(bomb) < 300_000
    with pytest.raises(SitemapRejected) as caught:
        parse_sitemap(bomb, f"{SITE}/s.xml.gz", max_bytes=10_000_000)
    assert caught.value.reason == "gzip-bomb"


def test_an_oversized_plain_sitemap_is_refused() -> None:
    body = urlset_xml([SitemapEntry(f"{SITE}/{n}.html") for n in range(2000)])
    with pytest.raises(SitemapRejected) as caught:
        parse_sitemap(body, f"{SITE}/s.xml", max_bytes=len(body) - 1)
    assert caught.value.reason == "too-large"


def test_entities_are_never_expanded() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://sarabic.ae/&lol3;.html</loc></url></urlset>"
    )
    parsed = parse_sitemap(laughs, f"{SITE}/s.xml", max_bytes=CAP)
    assert all("lollollol" not in u.url for u in parsed.urls)


def test_fifty_thousand_urls_parse_in_flat_memory() -> None:
    body = urlset_xml(SitemapEntry(f"{SITE}/{n}.html") for n in range(50_000))
    parsed = parse_sitemap(gzip.compress(body), f"{SITE}/s.xml.gz", max_bytes=50_000_000)
    assert len(parsed.urls) == 50_000


def test_w3c_datetimes() -> None:
    assert parse_w3c_datetime("2026-01-05") == datetime(2026, 1, 5, tzinfo=UTC)
    assert parse_w3c_datetime("2026-01-05T10:00Z") == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert parse_w3c_datetime("yesterday") is None


def test_dated_template_is_one_url_per_day_touched() -> None:
    template = f"{SITE}/sitemap_article.xml?date_start={{date_start}}&date_end={{date_end}}"
    start = datetime(2026, 1, 5, 23, 45, tzinfo=UTC)
    assert dated_urls(template, start, start + timedelta(minutes=15)) == [
        f"{SITE}/sitemap_article.xml?date_start=20260105&date_end=20260105"
    ]
    week = sitemap_roots([template, f"{SITE}/news.xml"], Window(start, start + timedelta(days=2)))
    assert len(week) == 4 and week[-1] == f"{SITE}/news.xml"


def test_run_window_by_run_type() -> None:
    start, end = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
    assert run_window("scheduled", start, end, sweep=False) is None
    assert run_window("manual", start, end, sweep=False) is None
    assert run_window("backfill", start, end, sweep=False) == Window(start, end)
    assert run_window("scheduled", start, end, sweep=True) == Window(start, end)
    # A sweep triggered by hand (no interval) covers the UTC day before it.
    assert run_window("manual", None, datetime(2026, 1, 6, 9, tzinfo=UTC), sweep=True) == Window(
        start, end
    )
    with pytest.raises(ValueError):
        run_window("backfill", None, None, sweep=False)
