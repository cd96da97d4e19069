"""Search relevance: the project's mapping and query, both analysis chains, vs plain `standard`.

Run: .venv/bin/python bench/relevance.py [--queries]

Two sets, each articles.json + queries.json:
  - variants (tests/fixtures/relevance): spelling variants, written alongside the folding rules;
  - analysts (tests/fixtures/relevance/analysts): written from an analyst's questions (names,
    places, sound and broken plurals), not from the rules.
Each set is indexed into temporary indices on the configured node (the local node by default)
and its queries run against
  - project/core:   the articles template with the core analysis and news_ingest.es.search's query,
  - project/arabic: the same with the full Arabic chain (analysis-arabic.json: a node with
                    analysis-common, or the local node with the news-ingest-analysis plugin),
  - baseline:       title/lede/body with the `standard` analyzer and a plain multi_match,
then prints recall@10 and nDCG@10 (binary relevance) side by side. The indices are deleted after.
"""

from __future__ import annotations

import argparse
import json
import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers
from news_ingest.es import indices, store
from news_ingest.es.search import SearchRequest, build_body
from news_ingest.settings import get_settings
from news_ingest.text.folding import folded_fields

RELEVANCE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "relevance"
SETS = {"variants": RELEVANCE, "analysts": RELEVANCE / "analysts"}
K = 10
BASELINE = "baseline"
BASELINE_BODY: dict[str, Any] = {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
        "properties": {
            name: {"type": "text", "analyzer": "standard"} for name in ("title", "lede", "body")
        }
    },
}


def load_articles(set_dir: Path = RELEVANCE) -> list[dict[str, Any]]:
    data = json.loads((set_dir / "articles.json").read_text("utf-8"))
    articles: list[dict[str, Any]] = data["articles"]
    return articles


def load_queries(set_dir: Path = RELEVANCE) -> list[dict[str, Any]]:
    data = json.loads((set_dir / "queries.json").read_text("utf-8"))
    queries: list[dict[str, Any]] = data["queries"]
    return queries


def project_document(article: dict[str, Any]) -> dict[str, Any]:
    """An article as the pipeline would store it (fields the fixture has, plus norm.*)."""
    doc = {
        key: article[key]
        for key in ("title", "body", "language", "topics", "published_at", "source")
    }
    doc.update(
        lede=article.get("lede", ""),
        url=f"https://relevance.example/{article['id']}",
        canonical_url=f"https://relevance.example/{article['id']}",
    )
    doc["norm"] = folded_fields(doc)
    return doc


def baseline_document(article: dict[str, Any]) -> dict[str, Any]:
    return {"title": article["title"], "lede": article.get("lede", ""), "body": article["body"]}


def project_query(text: str) -> dict[str, Any]:
    return build_body(SearchRequest(text=text, size=K))


def baseline_query(text: str) -> dict[str, Any]:
    return {"query": {"multi_match": {"query": text, "fields": ["title", "lede", "body"]}}}


@dataclass
class Scores:
    recall: float
    ndcg: float
    per_query: dict[str, tuple[float, float, list[str]]] = field(default_factory=dict)


def recall_at(ranked: list[str], relevant: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def ndcg_at(ranked: list[str], relevant: set[str], k: int = K) -> float:
    dcg = sum(1 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def evaluate(
    es: Elasticsearch,
    index: str,
    query_body: Callable[[str], dict[str, Any]],
    queries: list[dict[str, Any]],
) -> Scores:
    scores = Scores(0.0, 0.0)
    for query in queries:
        response = es.search(index=index, body={**query_body(query["query"]), "size": K})
        ranked = [hit["_id"] for hit in response["hits"]["hits"]]
        relevant = set(query["relevant"])
        scores.per_query[query["id"]] = (
            recall_at(ranked, relevant),
            ndcg_at(ranked, relevant),
            ranked,
        )
    scores.recall = sum(r for r, _, _ in scores.per_query.values()) / len(queries)
    scores.ndcg = sum(n for _, n, _ in scores.per_query.values()) / len(queries)
    return scores


def variants(es: Elasticsearch) -> list[str]:
    """The analysis chains this node can run: always core, and arabic when it can analyse it."""
    return ["core"] if indices.analysis_variant(es) == "core" else ["core", "arabic"]


@contextmanager
def relevance_indices(
    es: Elasticsearch, names: list[str], articles: list[dict[str, Any]]
) -> Iterator[dict[str, str]]:
    """Temporary indices, one per name in ``names`` (variants and BASELINE), filled with the set.

    Yields name -> index; the indices are deleted on exit.
    """
    prefix = f"relevance-{uuid.uuid4().hex[:10]}"
    created: dict[str, str] = {}
    try:
        for name in names:
            index = f"{prefix}-{name}"
            is_baseline = name == BASELINE
            body = BASELINE_BODY if is_baseline else indices.articles_index_body(name)
            es.indices.create(index=index, **body)
            created[name] = index
            make = baseline_document if is_baseline else project_document
            helpers.bulk(
                es,
                ({"_index": index, "_id": a["id"], **make(a)} for a in articles),
                refresh="wait_for",
            )
        yield created
    finally:
        if created:
            es.indices.delete(index=",".join(created.values()))


def run(es: Elasticsearch, set_dir: Path = RELEVANCE) -> dict[str, Scores]:
    chains = variants(es)
    queries = load_queries(set_dir)
    with relevance_indices(es, [*chains, BASELINE], load_articles(set_dir)) as created:
        results = {
            f"project/{chain}": evaluate(es, created[chain], project_query, queries)
            for chain in chains
        }
        results[BASELINE] = evaluate(es, created[BASELINE], baseline_query, queries)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", action="store_true", help="print per-query figures too")
    args = parser.parse_args()
    es = store.connect(get_settings())
    results = {name: run(es, set_dir) for name, set_dir in SETS.items()}
    sizes = ", ".join(
        f"{name}: {len(load_articles(d))} articles, {len(load_queries(d))} queries"
        for name, d in SETS.items()
    )
    print(f"{sizes}; k={K}")
    header = "".join(f" {name + ' R@10':>15} {'nDCG@10':>8}" for name in SETS)
    print(f"{'system':<16}{header}")
    for system in results["variants"]:
        cells = "".join(
            f" {results[name][system].recall:>15.3f} {results[name][system].ndcg:>8.3f}"
            for name in SETS
        )
        print(f"{system:<16}{cells}")
    if args.queries:
        for name, set_dir in SETS.items():
            for query in load_queries(set_dir):
                cells = "  ".join(
                    f"{system}: R {s.per_query[query['id']][0]:.2f} "
                    f"nDCG {s.per_query[query['id']][1]:.2f}"
                    for system, s in results[name].items()
                )
                print(f"{name}/{query['id']} {query['query']!s:<22} {cells}")


if __name__ == "__main__":
    main()
