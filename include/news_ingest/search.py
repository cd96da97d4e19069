"""Full-text search over articles: the query builder shared by the CLI and the UI."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch
from news_ingest.indices import IndexNames

RESULT_FIELDS = [
    "url",
    "canonical_url",
    "title",
    "lede",
    "body",
    "language",
    "topics",
    "published_at",
    "source",
    "categories",
    "watchlists",
]


def build_query(text: str) -> dict[str, Any]:
    """Title counts most; an exact phrase ranks above the same words scattered."""
    return {
        "bool": {
            "must": [
                {
                    "multi_match": {
                        "query": text,
                        "fields": ["title^3", "lede^2", "body"],
                        "type": "best_fields",
                        "operator": "and",
                    }
                }
            ],
            "should": [
                {
                    "multi_match": {
                        "query": text,
                        "fields": ["title.exact^4", "lede.exact^2", "body.exact"],
                        "type": "phrase",
                        "slop": 1,
                    }
                }
            ],
        }
    }


def search_articles(
    es: Elasticsearch, names: IndexNames, text: str, *, size: int = 10
) -> list[dict[str, Any]]:
    response = es.search(
        index=names.articles, query=build_query(text), source_includes=RESULT_FIELDS, size=size
    )
    return [
        {"id": hit["_id"], "score": hit["_score"], **hit["_source"]}
        for hit in response["hits"]["hits"]
    ]
