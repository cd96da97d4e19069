"""pipeline.fetch against a loopback site and a staging folder (no Elasticsearch needed):
pages are analysed as they arrive, and what comes out is staged for the index step."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from news_ingest import pipeline, staging
from news_ingest.crawl.fetcher import Page
from news_ingest.crawl.urls import canonicalize_url
from news_ingest.local.fixturesite import running_site
from news_ingest.settings import Settings

PARAGRAPHS = [
    "أجرى الرئيس الروسي اتصالا هاتفيا مع نظيره الفرنسي بحثا خلاله الوضع في قره باغ.",
    "وأكد الجانبان ضرورة وقف إطلاق النار والعودة إلى طاولة المفاوضات في أقرب وقت.",
    "وأشار البيان إلى أن مجموعة مينسك ستواصل جهودها للوساطة بين الطرفين المتنازعين.",
]
ARTICLE = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    + "".join(f"<p>{paragraph}</p>" for paragraph in PARAGRAPHS)
    + "</article></body></html>"
)


def _entry(url: str) -> dict[str, Any]:
    return {
        "url": url,
        "canonical_url": canonicalize_url(url),
        "feed_url": url,
        "title": "",
        "published_at": "2026-11-29T08:00:00+00:00",
        "categories": [],
        "authors": [],
        "source": "test",
        "profile": None,
    }


def test_a_page_whose_analysis_raises_is_rejected_and_the_rest_is_staged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline._analyze_and_match

    def fails_on_b(
        entry: dict[str, Any],
        page: Page,
        config_dir: str,
        watchlists: str,
        learned_boilerplate: frozenset[str],
        stories: bool,
        figures: bool,
    ) -> dict[str, Any]:
        if page.url.endswith("/b.html"):
            raise ValueError("boom")
        return real(entry, page, config_dir, watchlists, learned_boilerplate, stories, figures)

    monkeypatch.setattr(pipeline, "_analyze_and_match", fails_on_b)
    settings = Settings(allow_private_hosts=True, staging_url=tmp_path.as_uri())
    with running_site() as site:
        for name in ("a", "b", "c"):
            site.add(f"/{name}.html", ARTICLE.format(title=f"خبر {name}"))
        entries = staging.storage_path((tmp_path / "entries-00001.jsonl.gz").as_uri())
        urls = [site.url(f"/{name}.html") for name in ("a", "b", "c")]
        staging.write_records(entries, [_entry(url) for url in [*urls, site.url("/gone.html")]])
        done: list[None] = []
        with ThreadPoolExecutor(2) as pool:
            docs_path, counts = pipeline.fetch(
                str(entries), settings, pool, "[]", lambda: done.append(None)
            )

    assert counts == {"fetched": 3, "rejected_extract_error": 1, "rejected_fetch_http-404": 1}
    assert len(done) == 4  # progress: every entry, whatever its outcome
    records = list(staging.read_records(staging.storage_path(docs_path)))
    assert [r["doc"]["url"] for r in records if "doc" in r] == [urls[0], urls[2]]
    rejected = {r["rejected"]["url"]: r["rejected"] for r in records if "rejected" in r}
    assert rejected[urls[1]]["detail"] == "ValueError: boom"
    assert not entries.exists()  # the entries are accounted for, so they are unstaged
