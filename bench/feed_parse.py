"""Feed parsing: the streaming reader against feedparser on the same archive feed, one run.

A generated RSS 2.0 feed of N items (Arabic titles and summaries, like Sputnik's archive);
both parsers read the same bytes in this process, one after the other, and must find the
same entries. Prints seconds and entries per second of each (timed alone), and the peak
memory each allocates (a second pass under tracemalloc, which slows parsing severalfold).

    .venv/bin/python bench/feed_parse.py [--items 10000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

from news_ingest.crawl import feeds
from news_ingest.crawl.feeds import FeedEntry, parse_feed
from news_ingest.local.fixturesite import archive_items, rss_feed

FEED = "https://sarabic.ae/export/rss2/archive/index.xml"


def archive_feed(items: int) -> bytes:
    return rss_feed(archive_items(items), title="archive", link="https://sarabic.ae/")


def measure(parse: Callable[[], list[FeedEntry]]) -> tuple[float, float, list[FeedEntry]]:
    started = time.perf_counter()
    entries = parse()
    took = time.perf_counter() - started
    tracemalloc.start()
    parse()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return took, peak / 2**20, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    body = archive_feed(args.items)
    streaming = measure(lambda: parse_feed(body, FEED).entries)
    assert feeds._parse_streaming(body, FEED, "application/xml") is not None

    def with_feedparser() -> list[FeedEntry]:
        original = feeds._parse_streaming
        feeds._parse_streaming = lambda *_: None  # type: ignore[assignment]
        try:
            return parse_feed(body, FEED).entries
        finally:
            feeds._parse_streaming = original  # type: ignore[assignment]

    legacy = measure(with_feedparser)
    assert streaming[2] == legacy[2], "the parsers disagree"
    print(f"feed of {args.items} items, {len(body) / 1e6:.1f} MB (same bytes for both)")
    for name, (took, peak, entries) in (("streaming (lxml)", streaming), ("feedparser", legacy)):
        print(
            f"{name:18} {took:7.2f} s  {len(entries) / took:8.0f} entries/s  peak +{peak:6.1f} MiB"
        )
    print(f"feedparser / streaming time: {legacy[0] / streaming[0]:.1f}x")


if __name__ == "__main__":
    main()
