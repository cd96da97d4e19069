"""Revisits: their load at steady state, and what an unchanged re-run costs.

1. Steady-state load (the planner's own rules, simulated over a week on a 15-minute poll):
   a source publishing N articles a day, each fetched when first listed and again at the
   revisit ages of ``sources.yaml`` (1 h, 6 h, 24 h, 72 h), at most ``max_per_run`` revisits a
   run; fetches per hour once the first 72 h are past, and how late revisits run.
2. Measured on a generated site (a child process on 127.0.0.1) into the local node, side by
   side in one run: a first scheduled run; the same run again with nothing changed
   (target <= 0.05 of the first: conditional GETs, no page); a backfill of the site's
   busiest day, and that backfill again (the sitemap is read, no page is fetched).

    .venv/bin/python bench/revisits.py [--per-day 200 1000 5000] [--pages 300]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from _common import (
    bench_source,
    connect_and_install,
    machine,
    print_table,
    quiet_logs,
    scratch_settings,
    served_site,
    timed,
)

from news_ingest import pipeline
from news_ingest.crawl.archive import Window
from news_ingest.local.fixturesite import SiteSpec
from news_ingest.sources import Revisit
from news_ingest.text.edits import next_revisit

POLL = timedelta(minutes=15)
DAYS = 7


def steady_state(per_day: int, revisit: Revisit) -> tuple[float, float, float]:
    """(fetches per hour, of which revisits, the mean delay of a revisit in minutes) over
    the last four days of a week of polls; what ``pipeline.plan`` would take each poll."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    gap = timedelta(days=1) / per_day
    published = [start + gap * n for n in range(per_day * DAYS)]
    due: dict[int, datetime] = {}
    first_seen: dict[int, datetime] = {}
    fetches = revisits = 0
    delays: list[float] = []
    measured_from = start + timedelta(hours=72)
    now, next_new = start, 0
    while now < start + timedelta(days=DAYS):
        now += POLL
        new = []
        while next_new < len(published) and published[next_new] <= now:
            new.append(next_new)
            next_new += 1
        ready = sorted((when, n) for n, when in due.items() if when <= now)
        taken = ready[: revisit.max_per_run]
        for number in new:
            first_seen[number] = now
        for when, _ in taken:
            delays.append((now - when).total_seconds() / 60)
        for number in [*new, *(n for _, n in taken)]:
            upcoming = next_revisit(first_seen[number], now, revisit.after_hours)
            if upcoming is None:
                due.pop(number, None)
            else:
                due[number] = upcoming
        if now > measured_from:
            fetches += len(new) + len(taken)
            revisits += len(taken)
    hours = (start + timedelta(days=DAYS) - measured_from).total_seconds() / 3600
    mean_delay = sum(delays) / len(delays) if delays else 0.0
    return fetches / hours, revisits / hours, mean_delay


def measured(pages: int) -> list[tuple[str, object]]:
    # A day of news, an article every 4.8 minutes (300 a day), all listed by the feeds.
    spec = SiteSpec(pages=pages, feeds=4, seed=3, spacing_minutes=1440 / 300)
    with served_site(spec) as site, scratch_settings() as settings:
        es = connect_and_install(settings)
        source = bench_source(site.feeds).model_copy(update={"sitemaps": [site.sitemap]})
        first, first_s = timed(
            lambda: pipeline.run_once(source, site.feeds, settings, es, run_id="r1")
        )
        before = site.requests()
        again, again_s = timed(
            lambda: pipeline.run_once(source, site.feeds, settings, es, run_id="r2")
        )
        again_requests = site.requests() - before
    with served_site(spec) as site, scratch_settings() as settings:
        es = connect_and_install(settings)
        source = bench_source(site.feeds).model_copy(
            update={"sitemaps": [site.sitemap], "discover_sitemaps": False}
        )
        day = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))

        def backfill(run_id: str) -> dict[str, int]:
            return pipeline.run_once(source, site.feeds, settings, es, run_id=run_id, window=day)

        filled, filled_s = timed(lambda: backfill("b1"))
        refilled, refilled_s = timed(lambda: backfill("b2"))
    return [
        ("first run: indexed, seconds", f"{first.get('indexed', 0)}, {first_s:.1f}"),
        (
            "unchanged re-run: requests, pages fetched",
            f"{again_requests} for {spec.feeds} feeds, {again.get('fetched', 0)}",
        ),
        ("unchanged re-run / first run (target <= 0.05)", round(again_s / first_s, 3)),
        ("backfill of 2026-01-01: indexed, seconds", f"{filled.get('indexed', 0)}, {filled_s:.1f}"),
        (
            "backfill again: indexed, pages fetched",
            f"{refilled.get('indexed', 0)}, {refilled.get('fetched', 0)}",
        ),
        ("backfill again / backfill (target <= 0.05)", round(refilled_s / filled_s, 3)),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-day", type=int, nargs="+", default=[200, 1000, 5000])
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args(argv)
    quiet_logs()
    revisit = Revisit()
    rows: list[tuple[str, object]] = []
    for per_day in args.per_day:
        total, revisits, delay = steady_state(per_day, revisit)
        rows.append(
            (
                f"{per_day} articles/day",
                f"{total:.1f} fetches/h ({per_day / 24:.1f} new + {revisits:.1f} revisits), "
                f"revisits {delay:.0f} min late on average",
            )
        )
    print(f"\n{machine()}")
    print_table(
        f"steady state, revisits at {list(revisit.after_hours)} h, at most "
        f"{revisit.max_per_run} a run, a poll every {POLL.seconds // 60} min",
        rows,
    )
    print_table(f"measured side by side ({args.pages} pages)", measured(args.pages))


if __name__ == "__main__":
    main()
