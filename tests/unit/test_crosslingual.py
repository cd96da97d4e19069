"""Cross-language links: the figures of a text and the evidence rule (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from news_ingest.text.crosslingual import Telling, evidence, figures, links

NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_one_figure_in_every_language_s_writing() -> None:
    assert figures("1,960 troops", 2026) == figures("1 960 soldats", 2026) == {"1960"}
    assert figures("١٩٦٠ عسكريا", 2026) == {"1960"}  # bare, but far from any recent year
    assert figures("Brent at $78.4", 2026) == figures("برنت ٧٨٫٤ دولار", 2026) == {"784"}
    assert figures("450,000 barrels", 2026) == figures("450.000 barils", 2026) == {"450000"}


def test_years_and_single_digits_are_not_figures() -> None:
    assert figures("the 2020 war, 3 villages, in 2031", 2026) == frozenset()
    assert figures("the 2020 war", 1980) == {"2020"}  # a count, written in 1980


def telling(
    id: str, language: str, *, source: str = "a", hours: float = 0, nums: str = "15 120"
) -> Telling:
    return Telling(
        id=id,
        story_id=id,
        source=source,
        language=language,
        seen_at=NOON + timedelta(hours=hours),
        figures=frozenset(nums.split()),
        concepts=frozenset({"watchlist:karabakh"}),
    )


def test_evidence_needs_two_languages_one_publisher_the_window_and_enough_in_common() -> None:
    window = timedelta(hours=12)
    ar, en = telling("ar", "ar"), telling("en", "en", hours=2)
    link = evidence(en, ar, same_publisher=True, window=window)
    assert link is not None and link.figures == ("120", "15") and link.hours_apart == 2.0
    assert evidence(en, telling("ar2", "en"), same_publisher=True, window=window) is None
    assert evidence(en, ar, same_publisher=False, window=window) is None
    assert evidence(telling("en", "en", hours=13), ar, same_publisher=True, window=window) is None
    one_figure = telling("en", "en", nums="15 99")
    assert evidence(one_figure, ar, same_publisher=True, window=window) is None
    no_name = Telling(**{**en.__dict__, "concepts": frozenset({"topic:sport"})})
    assert evidence(no_name, ar, same_publisher=True, window=window) is None


def test_links_keep_the_best_telling_per_language_and_stay_within_a_publisher() -> None:
    known = [
        telling("ar-far", "ar", hours=-10),
        telling("ar-near", "ar", hours=-1),
        telling("ar-more", "ar", hours=-5, nums="15 120 36"),
        telling("ar-other", "ar", source="b", hours=0, nums="15 120 36 540"),
    ]
    batch = [telling("en", "en", nums="15 120 36 540"), telling("fr", "fr", hours=1)]
    found = links(batch, known, {"a": "sputnik", "b": "b"}, window=timedelta(hours=12))
    assert [link.other_id for link in found["en"]] == ["ar-more"]
    # The French telling links to the batch's English one too, each language once.
    assert [(link.other_language, link.other_id) for link in found["fr"]] == [
        ("ar", "ar-near"),
        ("en", "en"),
    ]
