"""Throughput: the pipeline end to end against its extraction bound, and an unchanged re-poll.

On a generated Sputnik-layout site (a child process on 127.0.0.1: N distinct Arabic articles
of 50-150 KB over several RSS feeds), measured side by side in one run:

1. extraction bound: pages/s of ``news_ingest.extract.articles.analyze_page`` (charset decoding,
   extraction, language, topics) alone through the process pool ``pipeline.extraction_pool``
   builds (all cores), on the same pages; measured before and after the end-to-end run, and
   averaged, because the machine is shared;
2. end to end: ``pipeline.run_once`` (what ``news-ingest run`` calls): poll the feeds, fetch,
   extract (plus watchlist matching), stage, index into the real node, deliver alerts;
   pages/s and the ratio to the bound (target >= 0.8);
3. the same run again with the feeds unchanged: requests made (target: one conditional GET
   per feed, no page) and its wall time over the first run's (target <= 0.05).

Each round uses fresh indices; the table shows the round with the median ratio, and the
ratios of all rounds.

    .venv/bin/python bench/throughput.py [--pages 2000] [--feeds 8] [--seed 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from _common import (
    CpuMeter,
    ServedSite,
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
from news_ingest.local.fixturesite import SiteSpec
from news_ingest.settings import Settings


def extraction_seconds(pool: Executor, records: list[Any], settings: Settings) -> float:
    _, seconds = timed(lambda: analyze_all(pool, records, settings))
    return seconds


@dataclass
class Round:
    """One side-by-side measurement, in fresh indices: bound, end to end, unchanged re-run."""

    bound_before: float  # pages/s
    bound_after: float
    end_to_end: float
    first: dict[str, int]
    first_requests: int
    first_seconds: float
    cpu: dict[str, float]
    second: dict[str, int]
    second_requests: int
    second_seconds: float

    @property
    def bound(self) -> float:
        return 2 / (1 / self.bound_before + 1 / self.bound_after)  # mean of the two times

    @property
    def ratio(self) -> float:
        return self.end_to_end / self.bound


def measure(site: ServedSite, records: list[Any]) -> Round:
    pages = len(records)
    with scratch_settings() as settings:
        es = connect_and_install(settings)
        source = bench_source(site.feeds)
        with pipeline.extraction_pool(settings) as pool:
            analyze_all(pool, records[: 4 * settings.extract_workers], settings)  # start workers
            bound_before = pages / extraction_seconds(pool, records, settings)
            before = site.requests()
            with CpuMeter(site.pid) as cpu:
                first, first_seconds = timed(
                    lambda: pipeline.run_once(source, site.feeds, settings, es, run_id="bench-1")
                )
            first_requests = site.requests() - before
            bound_after = pages / extraction_seconds(pool, records, settings)
        second, second_seconds = timed(
            lambda: pipeline.run_once(source, site.feeds, settings, es, run_id="bench-2")
        )
        second_requests = site.requests() - before - first_requests
    return Round(
        bound_before=bound_before,
        bound_after=bound_after,
        end_to_end=first.get("indexed", 0) / first_seconds,
        first=first,
        first_requests=first_requests,
        first_seconds=first_seconds,
        cpu=cpu.used,
        second=second,
        second_requests=second_requests,
        second_seconds=second_seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="report the median round")
    args = parser.parse_args()
    spec = SiteSpec(pages=args.pages, feeds=args.feeds, seed=args.seed)
    quiet_logs()

    with served_site(spec) as site:
        records = page_records(spec, site.base_url)
        megabytes = sum(len(page.body) for _, page in records) / 1e6
        rounds = [measure(site, records) for _ in range(args.rounds)]

    ratios = [r.ratio for r in rounds]
    median = sorted(rounds, key=lambda r: r.ratio)[len(rounds) // 2]
    print(f"\n{args.pages} pages ({megabytes:.0f} MB of HTML), {args.feeds} feeds; {machine()}")
    print_table(
        f"throughput, pages/s (the median of {len(rounds)} rounds, each side by side)",
        [
            (
                "extraction bound: before / after the run",
                f"{median.bound_before:.1f} / {median.bound_after:.1f}",
            ),
            ("extraction bound (mean)", round(median.bound, 1)),
            ("end to end (run_once)", round(median.end_to_end, 1)),
            ("ratio end to end / bound (target >= 0.8)", round(median.ratio, 2)),
            ("ratios of all rounds", " ".join(f"{ratio:.2f}" for ratio in ratios)),
            (
                "first run: indexed, alerts, requests",
                f"{median.first.get('indexed', 0)}, {median.first.get('alerts', 0)}, "
                f"{median.first_requests}",
            ),
        ],
    )
    print_table(
        f"CPU seconds during that end-to-end run ({median.first_seconds:.1f} s wall)",
        [(name, round(seconds, 1)) for name, seconds in median.cpu.items()],
    )
    print_table(
        "unchanged feeds: second run",
        [
            ("requests (target: one per feed)", f"{median.second_requests} for {args.feeds} feeds"),
            (
                "feeds unchanged, pages fetched",
                f"{median.second.get('feeds_unchanged', 0)}, {median.second.get('fetched', 0)}",
            ),
            (
                "wall time second / first (target <= 0.05)",
                round(median.second_seconds / median.first_seconds, 3),
            ),
        ],
    )


if __name__ == "__main__":
    main()
