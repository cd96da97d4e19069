"""Indexing cost: the project's bulk path against a bare bulk of the same documents.

``store.index_articles`` (content-hash lookup with mget, then streaming bulk, per-item
accounting) against ``elasticsearch.helpers.bulk`` of the very same documents, each into
fresh indices with the same template on the same node. Rounds alternate which goes first;
the medians are compared (target: project throughput >= 0.9 of bare).

    .venv/bin/python bench/indexing.py [--pages 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from _common import (
    analyzed_documents,
    connect_and_install,
    fresh_indices,
    machine,
    page_records,
    print_table,
    quiet_logs,
    scratch_settings,
    timed,
)

from elasticsearch import Elasticsearch, helpers
from news_ingest.es import store
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import SiteSpec


def project(es: Elasticsearch, names: IndexNames, docs: list[dict[str, Any]]) -> float:
    result, seconds = timed(lambda: store.index_articles(es, names, docs))
    assert result.created == len(docs) and not result.failed, result
    return seconds


def bare(es: Elasticsearch, names: IndexNames, docs: list[dict[str, Any]]) -> float:
    actions = ({"_index": names.articles, **doc} for doc in docs)
    (written, errors), seconds = timed(
        lambda: helpers.bulk(es, actions, chunk_size=store.BULK_CHUNK)
    )
    assert written == len(docs) and not errors
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    quiet_logs()
    spec = SiteSpec(pages=args.pages, seed=2)
    with scratch_settings() as settings:
        docs = analyzed_documents(page_records(spec, "http://127.0.0.1:8000"), settings)
        es = connect_and_install(settings)
        times: dict[str, list[float]] = {"project": [], "bare": []}
        for round_number in range(args.rounds):
            order = [("project", project), ("bare", bare)]
            for name, run in order if round_number % 2 == 0 else reversed(order):
                with fresh_indices(es) as names:
                    times[name].append(run(es, names, docs))
    project_s, bare_s = statistics.median(times["project"]), statistics.median(times["bare"])
    print(f"\n{len(docs)} article documents, {args.rounds} rounds; {machine()}")
    print_table(
        "bulk indexing into the real node, docs/s (median of rounds)",
        [
            ("store.index_articles (project)", round(len(docs) / project_s, 1)),
            ("helpers.bulk (bare)", round(len(docs) / bare_s, 1)),
            ("ratio project / bare (target >= 0.9)", round(bare_s / project_s, 2)),
        ],
    )


if __name__ == "__main__":
    main()
