"""What changed between two versions of an article, and the revisit schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from news_ingest.text.edits import describe_change, next_revisit, word_diff

OLD = {
    "title": "مقتل 40 شخصا في انفجار",
    "lede": "مقدمة",
    "body": "الفقرة الأولى وفيها 40 قتيلا.\n\nالفقرة الثانية.\n\nالفقرة الثالثة.",
}


def test_a_corrected_figure_and_an_added_paragraph() -> None:
    new = {
        **OLD,
        "title": "مقتل 42 شخصا في انفجار",
        "body": OLD["body"].replace("40 قتيلا", "42 قتيلا") + "\n\nتحديث: فقرة جديدة.",
    }
    change = describe_change(OLD, new)
    assert change["title_changed"] is True and change["lede_changed"] is False
    assert (change["paragraphs_added"], change["paragraphs_removed"]) == (1, 0)
    assert change["paragraphs_changed"] == 1
    assert "[-40-] {+42+}" in change["diff"] and "{+تحديث: فقرة جديدة.+}" in change["diff"]


def test_a_removed_paragraph() -> None:
    new = {**OLD, "body": "الفقرة الأولى وفيها 40 قتيلا.\n\nالفقرة الثالثة."}
    change = describe_change(OLD, new)
    assert (change["paragraphs_added"], change["paragraphs_removed"]) == (0, 1)
    assert change["paragraphs_changed"] == 0 and change["title_changed"] is False


def test_the_diff_is_short() -> None:
    old = " ".join(f"كلمة{n}" for n in range(2000))
    new = " ".join(f"كلمة{n}" if n % 7 else "بديل" for n in range(2000))
    diff = word_diff(old, new)
    assert len(diff) <= 600 and diff.endswith("…")


def test_revisits_follow_the_schedule_then_stop() -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    hours = (1.0, 6.0, 24.0, 72.0)
    assert next_revisit(first, first, hours) == first + timedelta(hours=1)
    assert next_revisit(first, first + timedelta(hours=1, minutes=5), hours) == first + timedelta(
        hours=6
    )
    assert next_revisit(first, first + timedelta(hours=30), hours) == first + timedelta(hours=72)
    assert next_revisit(first, first + timedelta(hours=73), hours) is None
    assert next_revisit(first, first, ()) is None
