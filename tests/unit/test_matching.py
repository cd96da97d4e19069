from __future__ import annotations

import pytest

from news_ingest.text.matching import PhraseMatcher


def found(terms: list[str], text: str) -> list[tuple[str, str, str]]:
    """(term, surface, proclitic) of each hit."""
    matcher = PhraseMatcher((term, None) for term in terms)
    return [
        (hit.term.phrase, text[hit.start : hit.end], hit.proclitic) for hit in matcher.find(text)
    ]


def test_longest_term_wins_and_hits_do_not_overlap() -> None:
    text = "نزاع ناغورني قره باغ ثم قره باغ"
    assert found(["قره باغ", "ناغورني قره باغ"], text) == [
        ("ناغورني قره باغ", "ناغورني قره باغ", ""),
        ("قره باغ", "قره باغ", ""),
    ]


def test_phrase_words_must_be_consecutive_whole_words() -> None:
    assert found(["قره باغ"], "قره عين باغ") == []
    assert found(["قره باغ"], "قرهباغ") == []
    assert found(["Kara"], "Karaoke") == []


def test_proclitics_only_on_the_first_word() -> None:
    assert found(["قره باغ"], "وقره باغ") == [("قره باغ", "وقره باغ", "و")]
    assert found(["قره باغ"], "قره وباغ") == []


def test_wildcard_and_proclitics_combine() -> None:
    assert found(["أرمين*"], "والأرمينية") == [("أرمين*", "والأرمينية", "وال")]


def test_wildcard_matches_endings() -> None:
    text = "в Нагорном Карабахе и карабахский вопрос, не Карабаш"
    assert found(["Нагорн* Карабах*", "Карабах*"], text) == [
        ("Нагорн* Карабах*", "Нагорном Карабахе", ""),
        ("Карабах*", "карабахский", ""),
    ]


def test_exact_term_beats_wildcard_of_the_same_length() -> None:
    assert found(["карабах*", "карабаха"], "Карабаха") == [("карабаха", "Карабаха", "")]


def test_hit_carries_payload_offsets_and_normalised_form() -> None:
    matcher = PhraseMatcher([("قره باغ", "ar")])
    text = "في قرةٌ  باغ"
    (hit,) = matcher.find(text)
    assert hit.term.payload == "ar"
    assert (hit.first, hit.last) == (1, 3)
    assert text[hit.start : hit.end] == "قرةٌ  باغ"
    assert hit.normalized == "قره باغ"


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        (["قره باغ", "قرة باغ"], "'قرة باغ' is the same as 'قره باغ' once normalised"),
        (["«»"], "has no letters or digits"),
        (["кар*"], "at least 4 letters"),
        (["кара*бах"], "'*' may only end a word"),
        (["*"], "'*' may only end a word"),
    ],
)
def test_bad_terms_are_rejected_with_the_term_named(terms: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PhraseMatcher((term, None) for term in terms)
