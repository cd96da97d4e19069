"""Learned boilerplate: counting, threshold, cold start, decay and the bound (pure)."""

from __future__ import annotations

from news_ingest.extract import boilerplate
from news_ingest.extract.boilerplate import LineCounts, Policy, count_pages, learned_lines

POLICY = Policy(threshold=0.5, min_pages=4, window=100, max_lines=50)
CHROME = "Comments are moderated: keep to the subject, please."


def pages(n: int, *, chrome_every: int = 1, start: int = 0) -> list[list[str]]:
    result = []
    for number in range(start, start + n):
        lines = [f"Own sentence number {number} of this article."]
        if number % chrome_every == 0:
            lines.append(CHROME)
        result.append(boilerplate.page_hashes(lines))
    return result


def test_a_line_on_most_pages_is_learned() -> None:
    counts = count_pages(LineCounts(), pages(10), POLICY)

    assert counts.pages == 10
    assert learned_lines(counts, POLICY) == {boilerplate.line_hash(CHROME)}


def test_a_line_on_few_pages_is_not() -> None:
    counts = count_pages(LineCounts(), pages(10, chrome_every=3), POLICY)  # 4 of 10

    assert learned_lines(counts, POLICY) == frozenset()


def test_cold_start_learns_nothing() -> None:
    counts = count_pages(LineCounts(), pages(3), POLICY)

    assert learned_lines(counts, POLICY) == frozenset()


def test_a_line_counts_once_per_page_and_short_lines_not_at_all() -> None:
    hashes = boilerplate.page_hashes([CHROME, CHROME, "Share", "Read more"])

    assert hashes == [boilerplate.line_hash(CHROME)]


def test_counts_decay_so_chrome_that_left_the_site_is_forgotten() -> None:
    policy = Policy(threshold=0.5, min_pages=4, window=20, max_lines=50)
    counts = count_pages(LineCounts(), pages(19), policy)
    assert learned_lines(counts, policy)

    # the site drops the banner: after a few windows its halved counts fall under the share
    counts = count_pages(counts, pages(60, chrome_every=1000, start=1), policy)

    assert counts.pages < policy.window
    assert learned_lines(counts, policy) == frozenset()


def test_the_table_is_bounded_and_keeps_a_line_that_started_repeating_late() -> None:
    policy = Policy(threshold=0.5, min_pages=4, window=1000, max_lines=10)
    counts = count_pages(LineCounts(), pages(40, chrome_every=1000, start=1), policy)
    assert len(counts.lines) == policy.max_lines

    counts = count_pages(counts, pages(60, start=100), policy)

    assert len(counts.lines) <= policy.max_lines
    assert boilerplate.line_hash(CHROME) in learned_lines(counts, policy)


def test_stored_form_round_trips() -> None:
    counts = count_pages(LineCounts(), pages(5), POLICY)

    assert LineCounts.from_doc(counts.to_doc()) == counts
    assert LineCounts.from_doc({}) == LineCounts()
