"""Throughput: the pipeline end to end against its extraction bound, and an unchanged re-poll.

On a generated Sputnik-layout site (a child process on 127.0.0.1: N distinct Arabic articles
of 50-150 KB over several RSS feeds), measured side by side in one run:

1. extraction bound: pages/s of ``news_ingest.articles.analyze_page`` (charset decoding,
   extraction, language, topics) alone through the process pool ``pipeline.extraction_pool``
   builds (all cores), on the same pages; measured before and after the end-to-end run, and
   averaged, because the machine is shared;
2. end to end: ``pipeline.run_once`` (what ``news-ingest run`` calls): poll the feeds, fetch,
   extract (plus watchlist matching), stage, index into the real node, deliver alerts;
   pages/s and the ratio to the bound (target >= 0.8);
3. the same run again with the feeds unchanged: requests made (target: one conditional GET
   per feed, no page) and its wall time over the first run's (target <= 0.05).

    .venv/bin/python bench/throughput.py [--pages 2000] [--feeds 8] [--seed 1]
"""

from __future__ import annotations

import argparse
from concurrent.futures import Executor
from typing import Any

from _common import (
    CpuMeter,
    analyze_all,
    bench_source,
    connect_and_install,
    machine,
    page_records,
    print_table,
    quiet_logs,
    scratch_settings,
    served_site,
    timed,
)

from news_ingest import pipeline
from news_ingest.fixturesite import SiteSpec
from news_ingest.settings import Settings


def extraction_seconds(pool: Executor, records: list[Any], settings: Settings) -> float:
    _, seconds = timed(lambda: analyze_all(pool, records, settings))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    spec = SiteSpec(pages=args.pages, feeds=args.feeds, seed=args.seed)
    quiet_logs()

    with served_site(spec) as site, scratch_settings() as settings:
        records = page_records(spec, site.base_url)
        megabytes = sum(len(page.body) for _, page in records) / 1e6
        es = connect_and_install(settings)
        source = bench_source(site.feeds)
        with pipeline.extraction_pool(settings) as pool:
            analyze_all(pool, records[: 4 * settings.extract_workers], settings)  # start workers
            bound_before = extraction_seconds(pool, records, settings)
            before = site.requests()
            with CpuMeter(site.pid) as cpu:
                first, first_seconds = timed(
                    lambda: pipeline.run_once(source, site.feeds, settings, es, run_id="bench-1")
                )
            first_requests = site.requests() - before
            bound_after = extraction_seconds(pool, records, settings)
        second, second_seconds = timed(
            lambda: pipeline.run_once(source, site.feeds, settings, es, run_id="bench-2")
        )
        second_requests = site.requests() - before - first_requests

    bound = 2 * args.pages / (bound_before + bound_after)
    end_to_end = first.get("indexed", 0) / first_seconds
    print(f"\n{args.pages} pages ({megabytes:.0f} MB of HTML), {args.feeds} feeds; {machine()}")
    print_table(
        "throughput, pages/s (same run)",
        [
            (
                "extraction bound: before / after the run",
                f"{args.pages / bound_before:.1f} / {args.pages / bound_after:.1f}",
            ),
            ("extraction bound (mean)", round(bound, 1)),
            ("end to end (run_once)", round(end_to_end, 1)),
            ("ratio end to end / bound (target >= 0.8)", round(end_to_end / bound, 2)),
            (
                "first run: indexed, alerts, requests",
                f"{first.get('indexed', 0)}, {first.get('alerts', 0)}, {first_requests}",
            ),
        ],
    )
    print_table(
        f"CPU seconds during the end-to-end run ({first_seconds:.1f} s wall)",
        [(name, round(seconds, 1)) for name, seconds in cpu.used.items()],
    )
    print_table(
        "unchanged feeds: second run",
        [
            ("requests (target: one per feed)", f"{second_requests} for {args.feeds} feeds"),
            (
                "feeds unchanged, pages fetched",
                f"{second.get('feeds_unchanged', 0)}, {second.get('fetched', 0)}",
            ),
            ("wall time second / first (target <= 0.05)", round(second_seconds / first_seconds, 3)),
        ],
    )


if __name__ == "__main__":
    main()
