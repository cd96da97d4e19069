from __future__ import annotations

import re
from pathlib import Path

import pytest

from news_ingest.configfile import ConfigError
from news_ingest.settings import PROJECT_ROOT
from news_ingest.text.topics import (
    Taxonomy,
    evaluate,
    load_labelled,
    load_taxonomy,
    tag_topics,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
TOPICS_YAML = PROJECT_ROOT / "include" / "config" / "topics.yaml"
LABELLED = FIXTURES / "topics_labelled.yaml"
# Dev micro-F1 is 0.96 (bench/topics.py); held-out 0.93. The dev set has 56 labels: 0.85
# fails when about six labels go wrong (a topic's recall collapsing, a noisy term firing on
# several articles) and tolerates a borderline article or two moving with a taxonomy edit.
MICRO_F1_FLOOR = 0.85


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(TOPICS_YAML)


def test_shipped_taxonomy_has_arabic_and_english_terms_per_topic(taxonomy: Taxonomy) -> None:
    assert 15 <= len(taxonomy.topics) <= 25
    for topic in taxonomy.topics:
        assert {"ar", "en"} <= topic.terms.keys(), topic.id


def test_seed_article_is_about_karabakh_diplomacy_and_terrorism(taxonomy: Taxonomy) -> None:
    title, _, body = (
        (FIXTURES / "seed" / "putin-macron-karabakh.txt").read_text("utf-8").partition("\n")
    )
    tags = tag_topics(taxonomy, title=title, text=body, categories=["العالم"])
    assert {"nagorno-karabakh", "diplomacy", "terrorism"} <= set(tags.topics)
    assert tags.topics[0] == "nagorno-karabakh"
    assert tags.topics == sorted(tags.topics, key=lambda topic: -tags.scores[topic])


def test_micro_f1_on_the_dev_set_stays_above_the_floor(taxonomy: Taxonomy) -> None:
    result = evaluate(taxonomy, load_labelled(LABELLED, "dev"))
    assert result.micro.f1 >= MICRO_F1_FLOOR, [
        (m.article_id, m.missed, m.extra) for m in result.mistakes
    ]


def test_labelled_set_only_uses_known_topics(taxonomy: Taxonomy) -> None:
    known = {topic.id for topic in taxonomy.topics}
    for section in ("dev", "held_out"):
        for article in load_labelled(LABELLED, section):
            assert set(article.topics) <= known, article.id


def test_unknown_label_is_an_error(taxonomy: Taxonomy, tmp_path: Path) -> None:
    path = tmp_path / "labelled.yaml"
    path.write_text("dev:\n  - {id: a, title: x, topics: [no-such-topic]}\n", "utf-8")
    with pytest.raises(ValueError, match="article 'a': unknown topics"):
        evaluate(taxonomy, load_labelled(path, "dev"))


TINY = """
topics:
  - id: oil
    name: Oil
    terms:
      ar: {نفط: 1}
      en: {oil: 1}
    categories: {اقتصاد: 1, الطاقة: 2}
  - id: terror
    name: Terrorism
    terms:
      ar: {إرهاب: 2}
      en: {terrorism: 2}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Taxonomy:
    path = tmp_path / "topics.yaml"
    path.write_text(TINY, "utf-8")
    return load_taxonomy(path)


def score(taxonomy: Taxonomy, topic: str, *, title: str = "", text: str = "") -> float:
    return tag_topics(taxonomy, title=title, text=text, categories=[]).scores.get(topic, 0.0)


def test_title_hits_weigh_more_than_body_hits(tiny: Taxonomy) -> None:
    assert score(tiny, "oil", title="النفط يرتفع") > score(tiny, "oil", text="النفط يرتفع")


def test_a_passing_mention_in_a_long_body_counts_less(tiny: Taxonomy) -> None:
    filler = " ".join(["كلام"] * 600)
    assert score(tiny, "oil", text=f"النفط {filler}") < score(tiny, "oil", text="النفط يرتفع")


def test_repeating_a_term_adds_less_than_new_evidence(tiny: Taxonomy) -> None:
    once = score(tiny, "oil", text="النفط")
    assert once < score(tiny, "oil", text="النفط النفط النفط") < 3 * once


def test_threshold_and_several_topics_best_first(tiny: Taxonomy) -> None:
    tags = tag_topics(tiny, title="الإرهاب يضرب حقل نفط", text="", categories=[])
    assert tags.topics == ["terror", "oil"]
    assert tags.scores == {"terror": 4.0, "oil": 2.0}
    assert tag_topics(tiny, title="", text="حقل نفط", categories=[]).topics == []


def test_categories_are_compared_normalised_and_add_their_score(tiny: Taxonomy) -> None:
    assert tag_topics(tiny, title="", text="", categories=["الطاقه"]).topics == ["oil"]
    assert tag_topics(tiny, title="", text="", categories=["اقتصاد"]).scores == {"oil": 1.0}
    assert tag_topics(tiny, title="", text="", categories=["اقتصاد", "اقتصاد"]).topics == []


def test_lookalike_words_are_not_evidence(taxonomy: Taxonomy) -> None:
    tags = tag_topics(
        taxonomy,
        title="بطاقة جديدة للطلاب",
        text="أسهم البرنامج في نشر فكرة القراءة بهدف تشجيع الطلاب",
        categories=[],
    )
    assert tags.topics == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  - {id: oil, name: Oil, terms: {ar: {نفط: 1, النفط: 1, نِفط: 2}}}\n",
            r"topics entry #1 \(id 'oil'\): .*'نِفط' is the same as 'نفط' once normalised",
        ),
        (
            "  - {id: oil, name: Oil, terms: {ar: {نفط: 0}}}\n",
            r"topics entry #1 \(id 'oil'\): field 'terms.ar.نفط'",
        ),
        (
            "  - {id: Oil, name: Oil, terms: {ar: {نفط: 1}}}\n",
            r"topics entry #1 \(id 'Oil'\): field 'id'",
        ),
        (
            "  - {id: oil, name: Oil, terms: {ar: {نفط: 1}}, colour: red}\n",
            r"topics entry #1 \(id 'oil'\): field 'colour'",
        ),
    ],
)
def test_config_errors_name_the_file_the_topic_and_the_field(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text("topics:\n" + body, "utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: ") + message):
        load_taxonomy(path)
