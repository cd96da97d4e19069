"""Revisions in the real node: an edit is one document plus one revision record, even when
the write dies between the two."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from elasticsearch import ConnectionError as ElasticsearchConnectionError
from elasticsearch import Elasticsearch, helpers
from news_ingest.es import indices, store
from news_ingest.es.history import article_history
from news_ingest.es.indices import IndexNames
from news_ingest.extract.articles import content_hash

pytestmark = pytest.mark.integration

URL = "https://sarabic.ae/20260105/story-1100000001.html"


def article(title: str, body: str) -> dict[str, Any]:
    doc = {
        "_id": "a1",
        "url": URL,
        "canonical_url": URL,
        "url_keys": [URL],
        "source": "sputnik_arabic",
        "title": title,
        "lede": "مقدمة",
        "body": body,
        "first_seen_at": "2026-01-05T10:00:00+00:00",
        "fetched_at": "2026-01-05T10:00:05+00:00",
        "revision": 0,
    }
    doc["content_hash"] = content_hash(doc)
    return doc


def test_a_crash_between_revision_and_article_writes_leaves_one_of_each(
    es: Elasticsearch, names: IndexNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    indices.install(es, names.prefix)
    store.index_articles(es, names, [article("مقتل 40 شخصا", "الفقرة الأولى.\n\nالثانية.")])
    edited = article("مقتل 42 شخصا", "الفقرة الأولى.\n\nالثانية.\n\nتحديث.")

    def dies(*_: object, **__: object) -> None:
        raise ElasticsearchConnectionError("cut")

    # The worst moment: the revision record is written, the article not yet.
    monkeypatch.setattr(store, "helpers", SimpleNamespace(streaming_bulk=dies))
    with pytest.raises(ElasticsearchConnectionError):
        store.index_articles(es, names, [edited])
    monkeypatch.setattr(store, "helpers", helpers)
    result = store.index_articles(es, names, [edited])  # the retry
    assert result.updated == 1

    es.indices.refresh(index=f"{names.articles},{names.revisions}")
    current, revisions = article_history(es, names, URL + "?utm_source=rss")
    articles = es.count(index=names.articles)["count"]
    print(
        f"crash between writes: expected articles=1 revisions=1 indexed={articles} "
        f"revisions={len(revisions)} lost={1 - articles} duplicated={len(revisions) - 1}"
    )
    assert current is not None and articles == 1 and len(revisions) == 1
    assert current["title"] == "مقتل 42 شخصا" and current["revision"] == 1
    assert current["first_seen_at"] == "2026-01-05T10:00:00+00:00"
    assert revisions[0]["title"] == "مقتل 40 شخصا" and revisions[0]["revision"] == 0
    assert revisions[0]["changes"]["paragraphs_added"] == 1
    assert "[-40-] {+42+}" in revisions[0]["changes"]["diff"]

    # The same version again changes nothing.
    again = store.index_articles(es, names, [edited])
    assert (again.unchanged, again.updated) == (1, 0)
