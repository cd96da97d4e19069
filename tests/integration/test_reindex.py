"""`news-ingest reindex`: a new generation behind the alias, nothing lost, old index kept."""

from __future__ import annotations

import pytest

from bench import relevance
from elasticsearch import Elasticsearch, helpers
from news_ingest.es import indices
from news_ingest.es.indices import IndexNames
from news_ingest.es.reindex import reindex
from news_ingest.es.search import SearchRequest, search
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def test_reindex_swaps_the_alias_and_keeps_the_old_index(
    es: Elasticsearch, names: IndexNames
) -> None:
    indices.install(es, names.prefix)
    articles = relevance.load_articles()
    # Written without the folded copies, as by code older than mapping version 2.
    helpers.bulk(
        es,
        (
            {
                "_index": names.articles,
                "_id": a["id"],
                **{k: v for k, v in relevance.project_document(a).items() if k != "norm"},
            }
            for a in articles
        ),
        refresh="wait_for",
    )
    # Persian yeh: the Arabic chain's own normalisation keeps it, Python's folding does not.
    before = {hit["id"] for hit in search(es, names, SearchRequest(text="ایران")).hits}
    assert before == {"a16"}  # only the exact spelling: nothing folded yet

    result = reindex(es, names)
    assert (result.source, result.target) == (names.articles_version(1), names.articles_version(2))
    assert result.method == "scan-bulk"  # the local node has no reindex module
    assert result.copied == len(articles)
    assert indices.articles_target(es, names) == names.articles_version(2)
    assert es.count(index=names.articles)["count"] == len(articles)
    assert es.count(index=names.articles_version(1))["count"] == len(articles)
    # The copy recomputed norm.*: the variant spelling now finds both articles.
    assert {hit["id"] for hit in search(es, names, SearchRequest(text="ایران")).hits} == {
        "a16",
        "a21",
    }
    assert indices.is_current(indices.index_meta(es, names.articles_version(2)))
    # The alias is the write index: new articles land in v2.
    es.index(index=names.articles, id="new", document={"title": "قره باغ"}, refresh=True)
    assert es.exists(index=names.articles_version(2), id="new")

    second = run_cli("reindex").stdout
    assert f"{names.articles_version(2)} -> {names.articles_version(3)}" in second
    assert "old generation kept" in second
    assert es.indices.exists(index=names.articles_version(1))
    assert es.count(index=names.articles)["count"] == len(articles) + 1

    dropped = run_cli("reindex", "--drop-old", "--no-migrate").stdout
    assert names.articles_version(1) in dropped and names.articles_version(2) in dropped
    assert not es.indices.exists(index=names.articles_version(1))
    assert not es.indices.exists(index=names.articles_version(2))
    assert es.count(index=names.articles)["count"] == len(articles) + 1
