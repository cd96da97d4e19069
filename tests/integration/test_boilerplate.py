"""Learned boilerplate end to end: a source without a profile whose pages share chrome that
trafilatura keeps; `news-ingest run` learns it on the real node and drops it afterwards."""

from __future__ import annotations

import random

import pytest

from elasticsearch import Elasticsearch
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import FeedItem, FixtureSite, running_site
from tests.integration.conftest import run_cli
from tests.integration.test_timeline import age_articles

pytestmark = pytest.mark.integration

# Inside the article element, as paragraphs: trafilatura has no reason to drop them.
CHROME = (
    "Comments are moderated: keep to the subject and respect the other readers of this site.",
    "Subscribe to our newsletter to receive the morning briefing in your inbox every day.",
)
# On a few pages only: below the threshold, so it stays.
PROMO = "Our reporters cover the region from twelve bureaus, listen to their weekly podcast."
WORDS = [
    "ministry",
    "officials",
    "said",
    "talks",
    "on",
    "the",
    "border",
    "would",
    "resume",
    "next",
    "week",
    "after",
    "a",
    "pause",
    "caused",
    "by",
    "disputes",
    "over",
    "water",
    "rights,",
    "grain",
    "exports,",
    "and",
    "the",
    "new",
    "railway",
    "corridor",
]
MIN_PAGES = 6


def _paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(24)).capitalize() + "."


def _page(number: int) -> tuple[str, str]:
    rng = random.Random(number)
    own = [f"Report {number}: {_paragraph(rng)}" for _ in range(4)]
    promo = [PROMO] if number % 5 == 0 else []
    paragraphs = "".join(f"<p>{text}</p>" for text in [*own, *promo, *CHROME])
    title = f"Border talks, day {number}"
    html = (
        f"<html><head><title>{title}</title></head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>© Fixture News</footer></body></html>"
    )
    return title, html


def _serve(site: FixtureSite, numbers: range) -> None:
    items = []
    for number in numbers:
        title, html = _page(number)
        site.add(f"/news/{number}.html", html)
        items.append(FeedItem(link=site.url(f"/news/{number}.html"), title=title))
    site.add_feed("/feed.xml", items)


def _bodies_with(es: Elasticsearch, names: IndexNames, text: str) -> int:
    es.indices.refresh(index=names.articles)
    query = {"match_phrase": {"body": text}}
    return int(es.count(index=names.articles, query=query)["count"])


def test_chrome_repeated_across_a_sources_pages_is_learned_and_dropped(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    env = {"NEWS_INGEST_BOILERPLATE_MIN_PAGES": str(MIN_PAGES)}
    with running_site() as site:
        # Cold start: nothing learned yet, so the bodies are what trafilatura gives.
        _serve(site, range(0, 10))
        first = run_cli("run", "--feed", site.url("/feed.xml"), env=env)
        assert es.count(index=names.articles)["count"] == 10, first.stdout
        assert _bodies_with(es, names, CHROME[0]) == 10
        counts = es.get(index=names.boilerplate, id="adhoc")["_source"]
        assert counts["pages"] == 10

        # The next pages of the source: the chrome is gone, their own text and the
        # occasional promo (2 of 10 pages, below the threshold) stay.
        _serve(site, range(10, 20))
        second = run_cli("run", "--feed", site.url("/feed.xml"), env=env)

    assert es.count(index=names.articles)["count"] == 20, second.stdout
    assert _bodies_with(es, names, CHROME[0]) == 10
    assert _bodies_with(es, names, CHROME[1]) == 10
    assert _bodies_with(es, names, PROMO) == 4
    for number in range(10, 20):
        assert _bodies_with(es, names, f"Report {number}") == 1
    later = es.search(
        index=names.articles,
        query={"match_phrase": {"title": "Border talks, day 15"}},
        size=1,
    )["hits"]["hits"][0]["_source"]
    assert later["body"].count("Report 15:") == 4
    assert not any(line in later["body"] for line in CHROME)
    assert 0 < later["extraction"]["quality"] <= 1
    assert es.get(index=names.boilerplate, id="adhoc")["_source"]["pages"] == 20


def test_a_revisit_that_only_drops_newly_learned_chrome_is_no_edit(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    env = {"NEWS_INGEST_BOILERPLATE_MIN_PAGES": str(MIN_PAGES)}
    with running_site() as site:
        _serve(site, range(0, 10))
        run_cli("run", "--feed", site.url("/feed.xml"), env=env)  # cold start: chrome kept
        _serve(site, range(10, 20))
        run_cli("run", "--feed", site.url("/feed.xml"), env=env)  # chrome learned
        # One of the first pages is really edited; all of them are due for a revisit,
        # which now drops the chrome their stored versions kept.
        _, html = _page(3)
        site.add("/news/3.html", html.replace("Report 3:", "Report 3 (corrected):"))
        age_articles(es, names, hours=1.01)
        third = run_cli("run", "--feed", site.url("/feed.xml"), env=env)
        edited_url = site.url("/news/3.html")

    es.indices.refresh(index=f"{names.articles},{names.revisions}")
    revisions = [hit["_source"] for hit in es.search(index=names.revisions)["hits"]["hits"]]
    edited = es.search(index=names.articles, query={"range": {"revision": {"gt": 0}}})
    print(
        f"revisits=20 edited_pages=1 revisions={len(revisions)} "
        f"articles_with_revisions={edited['hits']['total']['value']}"
    )
    assert len(revisions) == 1, third.stdout
    assert revisions[0]["url"] == edited_url
    assert edited["hits"]["total"]["value"] == 1
    # The unchanged ones keep the version they were indexed with.
    assert _bodies_with(es, names, CHROME[0]) == 10 - 1
