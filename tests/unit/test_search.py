"""The query builder and the Python folding behind Arabic-aware search (no Elasticsearch)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from news_ingest.es import indices
from news_ingest.es.reindex import ReindexError, copy_method, next_generation
from news_ingest.es.search import SearchRequest, build_body, highlight, language_subfields
from news_ingest.text.arabic import normalize
from news_ingest.text.folding import FOLDING_VERSION, fold, stem


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("قرة باغ", "قره باغ"),
        ("والقره باغ", "قره باغ"),
        ("أَذْرَبِيجَان", "أذربيجان"),
        ("الرئيـــس", "الرئيس"),
        ("مستشفى", "مستشفي"),
        ("بالعاصمة", "العاصمة"),
        ("للعاصمة", "عاصمة"),
        ("وبريطانيا", "بريطانيا"),
        ("المفاوضات", "مفاوضة"),
        ("مسلحين", "مسلحون"),
        ("ایران", "إيران"),
        ("١٥٠٠٠", "15000"),
        ("قره‌باغ", "قره باغ"),  # ZWNJ between the words
    ],
)
def test_variants_fold_alike(variant: str, plain: str) -> None:
    assert fold(variant) == fold(plain)


def test_short_words_keep_their_letters() -> None:
    # و + three letters is usually a word of its own (وزير), not a clitic.
    assert stem("وزير") == "وزير"
    assert fold("Karabakh TALKS") == "karabakh talks"


@given(st.text(alphabet="ابتةوىيأإآؤئءلكفسمنرقهـًٌٍَُِّْ ", max_size=30))
def test_fold_starts_from_normalize(text: str) -> None:
    # Folding only ever removes clitics and suffixes from normalised words.
    words = normalize(text).split()
    folded = fold(text).split()
    assert len(folded) == len(words)
    assert all(word.find(f) >= 0 for word, f in zip(words, folded, strict=True))


def test_query_folds_the_text_and_keeps_the_original() -> None:
    body = build_body(SearchRequest(text="قرة باغ"))
    text_query = body["query"]["bool"]["must"][0]["bool"]["should"]
    assert text_query[0]["multi_match"]["query"] == "قره باغ"
    assert text_query[0]["multi_match"]["fields"] == ["norm.title^3", "norm.lede^2", "norm.body^1"]
    assert text_query[1]["multi_match"]["query"] == "قرة باغ"
    phrase = body["query"]["bool"]["should"][0]["multi_match"]
    assert (phrase["type"], phrase["query"]) == ("phrase", "قره باغ")
    assert body["sort"][0] == {"_score": {"order": "desc"}}
    assert (body["from"], body["size"]) == (0, 10)
    assert "aggs" not in body


def test_filters_dates_sort_and_paging() -> None:
    body = build_body(
        SearchRequest(
            sources=("sputnik_arabic",),
            topics=("karabakh",),
            watchlists=("karabakh",),
            since="now-7d",
            until="2024-05-01",
            sort="date",
            page=3,
            size=20,
            facets=True,
        )
    )
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"source": ["sputnik_arabic"]}} in filters
    assert {"terms": {"watchlists": ["karabakh"]}} in filters
    assert {"range": {"published_at": {"gte": "now-7d", "lte": "2024-05-01||/d"}}} in filters
    assert body["sort"][0] == {"published_at": {"order": "desc", "missing": "_last"}}
    assert body["from"] == 40
    assert set(body["aggs"]) == {"topics", "languages", "sources", "watchlists", "published"}


def test_search_after_replaces_from_and_the_window_is_capped() -> None:
    body = build_body(SearchRequest(text="x", search_after=(1.5, "2024", "u")))
    assert body["search_after"] == [1.5, "2024", "u"] and "from" not in body
    with pytest.raises(ValueError, match="search_after"):
        build_body(SearchRequest(page=1001, size=10))


def test_language_subfields_follow_the_script() -> None:
    assert language_subfields("قره باغ") == []
    assert "title.en" in language_subfields("Karabakh")
    assert language_subfields("Карабах") == ["title.ru", "lede.ru", "body.ru"]
    assert language_subfields("Karabakh", ["fr"]) == ["title.fr", "lede.fr", "body.fr"]


def test_highlight_points_into_the_original_text() -> None:
    text = "قال إن الوضع في قَرَة بـــاغ والقرة باغ هادئ " + "كلمة " * 40
    snippet = highlight(text, "قره باغ")
    assert snippet is not None
    assert [text[s:e] for s, e in snippet.spans] == ["قَرَة", "بـــاغ", "والقرة", "باغ"]
    windowed = highlight("كلمة " * 60 + "قره باغ", "قرة", context=20)
    assert windowed is not None and windowed.text.endswith("قره باغ")
    assert [windowed.text[s:e] for s, e in windowed.spans] == ["قره"]
    assert highlight("لا شيء هنا", "قره") is None


def _analyzers_used(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("analyzer", "search_analyzer") and isinstance(value, str):
                found.add(value)
            else:
                found |= _analyzers_used(value)
    return found


@pytest.mark.parametrize("variant", ["arabic", "core"])
def test_every_analyzer_the_mapping_uses_is_defined(variant: str) -> None:
    body = indices.articles_index_body(variant)
    defined = set(body["settings"]["analysis"]["analyzer"])
    assert _analyzers_used(body["mappings"]) <= defined
    assert body["mappings"]["_meta"]["folding"] == FOLDING_VERSION
    assert indices.is_current(body["mappings"]["_meta"])


def test_core_analysis_uses_only_core_components() -> None:
    # The local node lacks analysis-common: no filter or analyzer type from it may appear.
    text = json.dumps(indices.load_body("analysis-core"))
    common_only = ("arabic", "decimal_digit", "english", "french", "russian", "pattern", "mapping")
    assert not [word for word in common_only if re.search(rf'"{word}[_"]', text)]


def test_next_generation_and_copy_method() -> None:
    names = indices.IndexNames("news")
    assert next_generation(names, "news-articles-v9") == "news-articles-v10"
    with pytest.raises(ReindexError):
        next_generation(names, "other-articles-v1")
    current = {"folding": FOLDING_VERSION, "mapping_version": indices.ARTICLES_MAPPING_VERSION}
    assert copy_method({"reindex"}, current) == "reindex-api"
    assert copy_method({"reindex"}, {"folding": FOLDING_VERSION, "mapping_version": 2}) == (
        "scan-bulk"
    )
    assert copy_method({"reindex"}, {}) == "scan-bulk"
    assert copy_method(set(), current) == "scan-bulk"


def test_collapse_by_story_counts_stories_and_refuses_search_after() -> None:
    body = build_body(SearchRequest(text="قره باغ", collapse="story", facets=True))
    assert body["collapse"]["field"] == "story_id"
    assert body["collapse"]["inner_hits"]["name"] == "members"
    assert body["aggs"]["stories"] == {"cardinality": {"field": "story_id"}}
    assert "topics" in body["aggs"]
    with pytest.raises(ValueError, match="collapsed"):
        build_body(SearchRequest(collapse="story", search_after=("x",)))
