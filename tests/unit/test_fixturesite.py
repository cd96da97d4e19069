"""The generated news site: deterministic, realistic pages, feeds over them, faults as named."""

from __future__ import annotations

import asyncio
import html

import pytest

from news_ingest.crawl.charset import decode_html
from news_ingest.crawl.feeds import parse_feed
from news_ingest.crawl.fetcher import Fetcher, Page, Rejected
from news_ingest.extract.html import extract_article
from news_ingest.extract.profiles import profile_by_id
from news_ingest.local.fixturesite import (
    FAULT_OUTCOMES,
    INDEXED,
    SiteSpec,
    encode_page,
    generate_articles,
    generate_site,
    render_article,
    running_site,
)
from news_ingest.settings import Settings

SPEC = SiteSpec(pages=60, feeds=3, seed=5)


def test_the_same_spec_gives_the_same_site() -> None:
    first, second = generate_articles(SPEC), generate_articles(SPEC)
    assert first == second
    assert render_article(first[7], SPEC) == render_article(second[7], SPEC)
    assert generate_articles(SiteSpec(pages=60, feeds=3, seed=6)) != first


def test_pages_are_distinct_articles_of_realistic_size() -> None:
    articles = generate_articles(SPEC)
    assert len({a.title for a in articles}) == len({a.paragraphs for a in articles}) == 60
    assert len({a.path for a in articles}) == 60
    sizes = [len(render_article(a, SPEC).encode("utf-8")) for a in articles]
    assert min(sizes) >= SPEC.min_bytes
    assert max(sizes) <= SPEC.max_bytes + 5_000  # the last comment added may overshoot


def test_extraction_finds_exactly_the_generated_article() -> None:
    sputnik = profile_by_id("sputnik")
    for article in generate_articles(SPEC)[:12]:
        page = render_article(article, SPEC)
        assert page.count("comment__text") > 5 and "cell-list__item" in page
        extracted = extract_article(page, "http://127.0.0.1:8000" + article.path, sputnik)
        assert extracted.title == article.title
        assert extracted.lede == article.lede
        assert extracted.body.split("\n\n") == list(article.paragraphs)
        assert "مناقشة" not in extracted.body


@pytest.mark.parametrize("fault", ["charset-latin1-header", "charset-wrong", "charset-missing"])
def test_legacy_charset_pages_decode_to_the_same_text(fault: str) -> None:
    spec = SiteSpec(pages=5, seed=5, faults={fault: 5})
    article = generate_articles(spec)[0]
    body, content_type = encode_page(article, render_article(article, spec))
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text, _ = decode_html(body, content_type)
    assert html.escape(article.title) in text


def test_feeds_list_every_article_once() -> None:
    with running_site() as site:
        generated = generate_site(site, SPEC)
        links = [
            entry.url
            for path in generated.feed_paths
            for entry in parse_feed(site.routes[path].body, site.url(path)).entries
        ]
    assert sorted(links) == sorted(generated.url(a) for a in generated.articles)


def test_each_fault_gives_the_outcome_it_promises() -> None:
    spec = SiteSpec(
        pages=len(FAULT_OUTCOMES) + 2,
        seed=5,
        faults=dict.fromkeys(FAULT_OUTCOMES, 1),
        slow_seconds=0.1,
        hang_seconds=1.5,
        retry_after_seconds=0,
        oversize_bytes=600_000,
    )
    settings = Settings(
        allow_private_hosts=True, fetch_timeout=0.5, fetch_retries=2, max_page_bytes=500_000
    )
    with running_site() as site:
        generated = generate_site(site, spec)

        async def fetch_all() -> list[Page | Rejected]:
            async with Fetcher(settings) as fetcher:
                return await fetcher.fetch_pages(generated.url(a) for a in generated.articles)

        results = asyncio.run(fetch_all())
    outcomes = {
        a.fault: INDEXED if isinstance(r, Page) else r.reason
        for a, r in zip(generated.articles, results, strict=True)
    }
    assert outcomes == {None: INDEXED, **FAULT_OUTCOMES}
    assert generated.expected_counts()[INDEXED] == 2 + list(FAULT_OUTCOMES.values()).count(INDEXED)
