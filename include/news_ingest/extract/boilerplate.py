"""Boilerplate a source repeats on its pages, learned from the lines of its recent pages (pure).

Sites without a profile repeat chrome that trafilatura keeps: cookie banners, comment
policies, "read also" promos, newsletter boxes. A line that appears verbatim on more than
``threshold`` of a source's recent pages is such chrome; an article's own sentences are not
repeated across articles. The counts are kept per source (in Elasticsearch, see
``es.boilerplate``), bounded to ``max_lines`` hashes and decayed by halving once ``window`` pages
were counted, so that a promo that left the site is forgotten and its slot reused.
Until ``min_pages`` pages were counted nothing is dropped: a cold start behaves as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Lines shorter than this are left alone: "Share", "Read more" and a lone date are not
# worth a hash slot, and a short line can be content ("Moscow, 20 October").
MIN_LINE_CHARS = 20


def line_hash(line: str) -> str:
    return hashlib.blake2b(line.encode("utf-8"), digest_size=8).hexdigest()


def page_hashes(lines: Iterable[str]) -> list[str]:
    """Each countable line of one page once, in order."""
    return list(dict.fromkeys(line_hash(line) for line in lines if len(line) >= MIN_LINE_CHARS))


@dataclass(frozen=True, slots=True)
class Policy:
    threshold: float
    min_pages: int
    window: int
    max_lines: int


@dataclass(slots=True)
class LineCounts:
    """One source's counts: pages counted (decayed) and pages per line hash (decayed)."""

    pages: float = 0.0
    lines: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> LineCounts:
        pages = doc.get("pages", 0.0)
        lines = doc.get("lines", {})
        if not isinstance(pages, int | float) or not isinstance(lines, dict):
            raise ValueError(f"not a line-count document: {sorted(doc)}")
        return cls(float(pages), {str(key): float(value) for key, value in lines.items()})

    def to_doc(self) -> dict[str, object]:
        return {"pages": self.pages, "lines": dict(self.lines)}


def count_pages(counts: LineCounts, pages: Iterable[Iterable[str]], policy: Policy) -> LineCounts:
    """counts plus one more page per item of ``pages`` (each a page's ``page_hashes``)."""
    result = LineCounts(counts.pages, dict(counts.lines))
    for hashes in pages:
        result.pages += 1
        for key in set(hashes):
            result.lines[key] = result.lines.get(key, 0.0) + 1
        if result.pages >= policy.window:
            result.pages /= 2
            result.lines = {key: n / 2 for key, n in result.lines.items() if n / 2 >= 1}
        if len(result.lines) > 2 * policy.max_lines:
            result.lines = _most_counted(result.lines, policy.max_lines)
    result.lines = _most_counted(result.lines, policy.max_lines)
    return result


def _most_counted(lines: dict[str, float], limit: int) -> dict[str, float]:
    """The ``limit`` highest counts; among equal counts the newest lines stay, so that a
    line that started repeating lately is not pushed out by old one-offs."""
    if len(lines) <= limit:
        return lines
    items = list(lines.items())
    kept = sorted(range(len(items)), key=lambda i: (-items[i][1], -i))[:limit]
    return dict(items[i] for i in sorted(kept))


def learned_lines(counts: LineCounts, policy: Policy) -> frozenset[str]:
    """The hashes of lines seen on more than ``threshold`` of the source's recent pages."""
    if counts.pages < policy.min_pages:
        return frozenset()
    limit = policy.threshold * counts.pages
    return frozenset(key for key, n in counts.lines.items() if n > limit)
