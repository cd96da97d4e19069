"""How much an extraction looks like an article: one score in 0..1 per page (pure).

Stored on every article (``extraction.quality``) so that a site whose layout changed shows
as a drop in its scores, and used by ``extract.html`` to decide when trafilatura's costly
safety nets (readability, justext) are worth running. The signals are the classic ones of
boilerplate detection: prose comes in long lines of few links, navigation and widgets in
short lines of many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# A prose line; menus, bylines, captions and buttons are shorter.
PROSE_LINE_CHARS = 80
# Enough text and paragraphs for a full score on those signals: a short news item.
FULL_BODY_CHARS = 1200
FULL_PARAGRAPHS = 4
WARNING_PENALTY = 0.15


@dataclass(frozen=True, slots=True)
class Signals:
    paragraphs: Sequence[str]
    # Share of the main container's text that sits in links (0 when unknown).
    link_density: float
    has_title: bool
    # None when no lede is expected (no profile and no description to take it from).
    has_lede: bool | None
    warnings: int


def prose_share(paragraphs: Sequence[str]) -> float:
    """Share of the body's characters that sit in prose-length lines."""
    total = sum(len(line) for line in paragraphs)
    if not total:
        return 0.0
    return sum(len(line) for line in paragraphs if len(line) >= PROSE_LINE_CHARS) / total


def quality_score(signals: Signals) -> float:
    chars = sum(len(line) for line in signals.paragraphs)
    if not chars:
        return 0.0
    parts = (
        (0.3, min(1.0, chars / FULL_BODY_CHARS)),
        (0.2, min(1.0, len(signals.paragraphs) / FULL_PARAGRAPHS)),
        (0.3, prose_share(signals.paragraphs)),
        (0.1, 1.0 if signals.has_title else 0.0),
        (0.1, 1.0 if signals.has_lede in (None, True) else 0.0),
    )
    # Text that is mostly links is navigation, however long and well-formed its lines.
    link_factor = 1.0 - min(1.0, max(0.0, signals.link_density))
    score = sum(weight * value for weight, value in parts) * link_factor
    score -= WARNING_PENALTY * signals.warnings
    return round(min(1.0, max(0.0, score)), 3)
