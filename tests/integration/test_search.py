"""Arabic-aware search on the real node: the relevance set, variants, filters, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bench import relevance
from elasticsearch import Elasticsearch, helpers
from news_ingest.es import indices
from news_ingest.es.indices import IndexNames
from news_ingest.es.search import SearchRequest, search
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def indexed(es: Elasticsearch, names: IndexNames) -> Iterator[IndexNames]:
    """The relevance set in this test's articles alias, as the pipeline would write it."""
    indices.install(es, names.prefix)
    helpers.bulk(
        es,
        (
            {"_index": names.articles, "_id": a["id"], **relevance.project_document(a)}
            for a in relevance.load_articles()
        ),
        refresh="wait_for",
    )
    yield names


def _ids(es: Elasticsearch, names: IndexNames, text: str, **filters: Any) -> list[str]:
    return [hit["id"] for hit in search(es, names, SearchRequest(text=text, **filters)).hits]


def test_recall_is_at_least_the_standard_baseline(es: Elasticsearch) -> None:
    results = relevance.run(es)
    baseline = results[relevance.BASELINE]
    core = results["project/core"]
    assert core.recall >= baseline.recall
    assert core.ndcg >= baseline.ndcg
    # Every variant query finds all its articles even with the core chain.
    assert core.recall == 1.0, {q: s[:2] for q, s in core.per_query.items() if s[0] < 1}


@pytest.mark.requires_arabic_analysis
def test_the_node_runs_the_production_chain_and_indices_say_so(
    es: Elasticsearch, names: IndexNames
) -> None:
    assert indices.analysis_variant(es) == "arabic", "the node cannot run analysis-arabic.json"
    indices.install(es, names.prefix)
    meta = indices.index_meta(es, indices.articles_target(es, names))
    assert meta["analysis"] == "arabic"
    assert any(plugin.startswith("news-ingest-analysis ") for plugin in meta["node_plugins"])
    # Light stemming and Arabic normalisation, by the production mapping's own analyzer.
    tokens = es.indices.analyze(
        index=names.articles, analyzer="news_text", text="اللاجئين والمفاوضات إلى"
    )["tokens"]
    assert [token["token"] for token in tokens] == ["لاجئ", "مفاوض"]


@pytest.mark.requires_arabic_analysis
def test_full_chain_recall_is_at_least_the_baseline(es: Elasticsearch) -> None:
    results = relevance.run(es)
    assert results["project/arabic"].recall >= results[relevance.BASELINE].recall
    assert results["project/arabic"].recall == results["project/core"].recall


@pytest.mark.requires_arabic_analysis
def test_full_chain_beats_core_on_the_analysts_set(es: Elasticsearch) -> None:
    results = relevance.run(es, relevance.SETS["analysts"])
    # Stemming joins sound plurals and clitics (لاجئ/اللاجئين); folding alone does not.
    assert results["project/arabic"].recall > results["project/core"].recall
    assert results["project/core"].recall > results[relevance.BASELINE].recall


def test_spelling_variants_find_each_other(es: Elasticsearch, indexed: IndexNames) -> None:
    assert set(_ids(es, indexed, "قرة باغ")[:2]) == {"a01", "a02"}
    assert set(_ids(es, indexed, "قره باغ")[:2]) == {"a01", "a02"}
    # Tashkeel in the query, none in the article.
    assert "a04" in _ids(es, indexed, "أَذْرَبِيجَان")
    # Tatweel in the article title, none in the query.
    assert _ids(es, indexed, "الرئيس الايراني")[0] == "a05"
    assert set(_ids(es, indexed, "مستشفي")) == {"a08", "a09"}
    assert "a10" in _ids(es, indexed, "بموسكو")


def test_a_phrase_ranks_above_scattered_words(es: Elasticsearch, indexed: IndexNames) -> None:
    ranked = _ids(es, indexed, "وقف إطلاق النار")
    assert set(ranked[:2]) == {"a01", "a23"}
    assert ranked.index("a24") > 1


def test_filters_sort_pages_and_facets(es: Elasticsearch, indexed: IndexNames) -> None:
    assert _ids(es, indexed, "قرة باغ", sources=("rt_arabic",)) == []
    assert _ids(es, indexed, "", languages=("en",)) == ["a26"]
    assert _ids(es, indexed, "موسكو", topics=("russia",)) == ["a10"]
    # A bare `until` date includes that whole day.
    assert _ids(es, indexed, "", since="2024-03-02", until="2024-03-03", sort="date") == [
        "a03",
        "a02",
    ]
    newest = search(es, indexed, SearchRequest(sort="date", size=3, facets=True))
    assert [hit["id"] for hit in newest.hits] == ["a10", "a26", "a25"]
    assert newest.total == 26
    assert ("karabakh", 7) in newest.facets["topics"]
    assert dict(newest.facets["languages"]) == {"ar": 25, "en": 1}
    following = search(
        es, indexed, SearchRequest(sort="date", size=3, search_after=newest.next_after)
    )
    second_page = search(es, indexed, SearchRequest(sort="date", size=3, page=2))
    assert [h["id"] for h in following.hits] == [h["id"] for h in second_page.hits]
    assert [h["id"] for h in following.hits] == ["a24", "a23", "a22"]


def test_highlights_mark_variants_in_the_original_text(
    es: Elasticsearch, indexed: IndexNames
) -> None:
    hit = next(
        h for h in search(es, indexed, SearchRequest(text="قرة باغ")).hits if h["id"] == "a01"
    )
    title = hit["highlight"]["title"]
    assert title["text"] == "بوتين وماكرون يبحثان الوضع في قره باغ"
    assert [title["text"][s:e] for s, e in title["spans"]] == ["قره", "باغ"]
    assert set(hit) >= {"url", "title", "lede", "body", "language", "topics", "published_at"}


def test_cli_search_filters_and_table(indexed: IndexNames) -> None:
    table = run_cli("search", "قرة باغ", "--since", "2024-03-02", "--topic", "karabakh").stdout
    assert "اشتباكات جديدة على خط التماس" in table
    assert "بوتين وماكرون" not in table
    assert "topics:" in table
    hits = json.loads(run_cli("search", "", "--sort", "date", "--size", "2", "--json").stdout)
    assert [hit["id"] for hit in hits] == ["a10", "a26"]
    paged = run_cli("search", "", "--sort", "date", "--size", "2", "--page", "2", "--json")
    assert [hit["id"] for hit in json.loads(paged.stdout)] == ["a25", "a24"]
