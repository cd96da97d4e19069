"""What changed between two versions of an article, and when to look again (pure).

An edit on a news site is usually small: a corrected figure, a reworded headline, a
paragraph added as the story develops. The summary says which of those happened, and a
short word-level diff shows the words, so an analyst sees the edit without reading both.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

DIFF_CHARS = 600
CONTEXT_WORDS = 3


def paragraphs(article: Mapping[str, Any]) -> list[str]:
    body = str(article.get("body") or "")
    return [part.strip() for part in body.split("\n\n") if part.strip()]


def describe_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``title_changed``, ``lede_changed``, paragraphs added/removed/changed, ``diff``."""
    added = removed = changed = 0
    matcher = difflib.SequenceMatcher(a=paragraphs(old), b=paragraphs(new), autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "insert":
            added += b2 - b1
        elif op == "delete":
            removed += a2 - a1
        elif op == "replace":
            both = min(a2 - a1, b2 - b1)
            changed += both
            added += (b2 - b1) - both
            removed += (a2 - a1) - both
    return {
        "title_changed": (old.get("title") or "") != (new.get("title") or ""),
        "lede_changed": (old.get("lede") or "") != (new.get("lede") or ""),
        "paragraphs_added": added,
        "paragraphs_removed": removed,
        "paragraphs_changed": changed,
        "diff": word_diff(_reader_text(old), _reader_text(new)),
    }


def _reader_text(article: Mapping[str, Any]) -> str:
    return "\n".join(str(article.get(key) or "") for key in ("title", "lede", "body"))


def word_diff(old: str, new: str, limit: int = DIFF_CHARS) -> str:
    """``… context [-removed words-] {+added words+} context …``, cut at ``limit`` chars."""
    a, b = old.split(), new.split()
    hunks = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        before = " ".join(a[max(0, a1 - CONTEXT_WORDS) : a1])
        after = " ".join(a[a2 : a2 + CONTEXT_WORDS])
        parts = [before]
        if a2 > a1:
            parts.append(f"[-{' '.join(a[a1:a2])}-]")
        if b2 > b1:
            parts.append(f"{{+{' '.join(b[b1:b2])}+}}")
        parts.append(after)
        hunks.append("… " + " ".join(part for part in parts if part) + " …")
    text = "\n".join(hunks)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def next_revisit(
    first_seen: datetime, fetched: datetime, after_hours: Sequence[float]
) -> datetime | None:
    """The first scheduled age after the latest fetch; None once the schedule is spent."""
    for hours in after_hours:
        due = first_seen + timedelta(hours=hours)
        if due > fetched:
            return due
    return None
