"""Story fingerprints and grouping (pure): news_ingest.text.stories, es.stories.story_doc."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from news_ingest.es.stories import (
    StorySummary,
    articles_summary,
    batch_story_docs,
    bucket_summary,
    story_doc,
)
from news_ingest.local.storyset import generate_story_set
from news_ingest.text.folding import fold
from news_ingest.text.stories import (
    BANDS,
    EXACT_PREFIX,
    Fingerprint,
    Member,
    assign,
    fingerprint,
    shingles,
    similarity,
)

T0 = datetime(2026, 2, 2, 8, tzinfo=UTC)
WINDOW = timedelta(hours=72)
BODY = (
    "أكد الرئيس الروسي فلاديمير بوتين ونظيره الفرنسي إيمانويل ماكرون في اتصال هاتفي على أهمية "
    "امتثال الأطراف لاتفاقات وقف إطلاق النار وجاء في البيان أنه نوقشت بالتفصيل تطورات الوضع في "
    "منطقة الصراع وأبلغ الكرملين عن خطوات لمنع المزيد من تصعيد الأعمال العدائية في المنطقة"
)
OTHER = (
    "قررت مجموعة أوبك بلس خفض إنتاج النفط بمقدار مليوني برميل يوميا اعتبارا من الشهر المقبل "
    "وقال وزير الطاقة إن القرار يهدف إلى دعم استقرار الأسواق في ظل تباطؤ الاقتصاد العالمي"
)


def fp(title: str, body: str, lede: str = "") -> Fingerprint:
    return fingerprint({"title": fold(title), "lede": fold(lede), "body": fold(body)})


def member(name: str, fingerprint_: Fingerprint, minutes: int = 0, **known: str) -> Member:
    return Member(name, T0 + timedelta(minutes=minutes), fingerprint_, **known)  # type: ignore[arg-type]


def test_shingles_are_word_runs_and_short_texts_one_run() -> None:
    assert shingles(["a", "b", "c", "d"]) == {"a b c", "b c d"}
    assert shingles(["a", "b"]) == {"a b"}
    assert shingles([]) == set()


def test_fingerprint_is_stable_and_round_trips_through_the_document() -> None:
    first, again = fp("عنوان", BODY), fp("عنوان", BODY)
    assert first == again
    assert len([k for k in first.keys if not k.startswith(EXACT_PREFIX)]) == BANDS
    assert Fingerprint.from_fields(first.as_fields()) == first


def test_similarity_estimates_overlap() -> None:
    original = fp("بوتين وماكرون", BODY)
    assert similarity(original.signature, original.signature) == 1.0
    updated = fp(
        "بوتين وماكرون محدث", BODY + " وأضاف البيان أن الجانبين اتفقا على مواصلة الاتصالات"
    )
    assert similarity(original.signature, updated.signature) > 0.6
    assert similarity(original.signature, fp("أوبك", OTHER).signature) < 0.1


def test_exact_key_is_the_folded_body_whatever_the_headline() -> None:
    assert fp("عنوان أول", BODY).exact_key == fp("عنوان آخر تماما", BODY).exact_key
    assert fp("عنوان", BODY).exact_key != fp("عنوان", OTHER).exact_key


def test_copies_in_one_batch_join_the_first_and_exact_copies_are_duplicates() -> None:
    # Given out of order: the batch is taken in order of time.
    batch = [
        member("update", fp("بوتين وماكرون", BODY + " وأضاف الكرملين تفاصيل جديدة"), 120),
        member("copy", fp("عنوان آخر", BODY), 30),
        member("original", fp("بوتين وماكرون", BODY), 0),
        member("oil", fp("أوبك", OTHER), 10),
    ]
    result = assign(batch, [], threshold=0.5, window=WINDOW)
    assert result["original"].story_id == "original" and result["original"].similarity is None
    assert result["copy"].story_id == "original" and result["copy"].duplicate_of == "original"
    assert result["update"].story_id == "original" and result["update"].duplicate_of is None
    assert result["update"].similarity is not None and result["update"].similarity >= 0.5
    assert result["oil"].story_id == "oil"


def test_indexed_members_count_and_a_copy_of_a_copy_points_to_the_root() -> None:
    known = [member("first", fp("ا", BODY), 0, story_id="s1")]
    known.append(member("second", fp("ب", BODY), 5, story_id="s1", duplicate_of="first"))
    result = assign([member("third", fp("ج", BODY), 9)], known, threshold=0.5, window=WINDOW)
    assert (result["third"].story_id, result["third"].duplicate_of) == ("s1", "first")


def test_outside_the_window_or_below_the_threshold_starts_a_story() -> None:
    known = [member("old", fp("ا", BODY), 0, story_id="old")]
    late = member("late", fp("ا", BODY), int(WINDOW.total_seconds() // 60) + 1)
    assert assign([late], known, threshold=0.5, window=WINDOW)["late"].story_id == "late"
    near = member("near", fp("ا", BODY + " " + OTHER), 5)
    assert assign([near], known, threshold=0.99, window=WINDOW)["near"].story_id == "near"


def test_an_updated_article_keeps_its_story() -> None:
    known = [member("a", fp("ا", BODY), 0, story_id="s9")]
    changed = member("a", fp("ا", OTHER), 60)
    assert assign([changed], known, threshold=0.5, window=WINDOW)["a"].story_id == "s9"


def test_story_doc_from_its_aggregation_bucket() -> None:
    bucket = {
        "key": "s1",
        "doc_count": 3,
        "sources": {
            "buckets": [{"key": "sputnik_arabic", "doc_count": 2}, {"key": "x", "doc_count": 1}]
        },
        "languages": {"buckets": [{"key": "ar", "doc_count": 3}]},
        "duplicates": {"doc_count": 1},
        "updated": {"value_as_string": "2026-02-02T10:00:00.000Z"},
        "first": {
            "hits": {
                "hits": [
                    {
                        "_id": "s1",
                        "_source": {
                            "url": "https://example.org/a",
                            "title": "عنوان",
                            "source": "sputnik_arabic",
                            "published_at": "2026-02-02T08:00:00+00:00",
                        },
                    }
                ]
            }
        },
    }
    doc = story_doc("s1", bucket_summary(bucket), "now")
    assert doc["members"] == 3 and doc["duplicates"] == 1
    assert doc["members_by_source"] == {"sputnik_arabic": 2, "x": 1}
    assert doc["first_source"] == "sputnik_arabic" and doc["first_seen_at"].startswith(
        "2026-02-02T08"
    )


def _article(doc_id: str, minutes: int | None, **fields: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "_id": doc_id,
        "url": f"https://example.org/{doc_id}",
        "title": f"title {doc_id}",
        "source": "sputnik_arabic",
        "language": "ar",
        "fetched_at": (T0 + timedelta(hours=1)).isoformat(),
        "story_id": "s1",
        **fields,
    }
    if minutes is not None:
        doc["published_at"] = (T0 + timedelta(minutes=minutes)).isoformat()
    return doc


STORY = [
    _article("s1", 30),
    _article("c2", 30, duplicate_of="s1", source="other_site"),  # same time: url decides
    _article("c3", None, language="en", cross_lingual=[{"story_id": "s7"}]),
    _article("c4", 5, story_id="s2", cross_lingual=[{"story_id": "s1"}]),
]
WRITTEN_AT = "2026-02-02T10:00:00.123456+00:00"


def test_a_story_doc_is_the_same_however_its_members_split_between_index_and_batch() -> None:
    # What a batch derives (members already indexed + its own) must not depend on which
    # members were indexed before: a retried batch, whose articles the aggregation leaves
    # out, gives the same document as its first try.
    whole = batch_story_docs(STORY, WRITTEN_AT, {}, {})
    for split in range(len(STORY) + 1):
        indexed, batch = STORY[:split], STORY[split:]
        summaries: dict[str, StorySummary] = {}
        links: dict[str, set[str]] = {}
        for doc in indexed:
            own = articles_summary([doc], WRITTEN_AT)
            summaries[str(doc["story_id"])] = (
                summaries.get(str(doc["story_id"]), StorySummary()) + own
            )
            for target in own.links_to:
                links.setdefault(target, set()).add(str(doc["story_id"]))
        docs = batch_story_docs(batch, WRITTEN_AT, summaries, links)
        assert all(docs[key] == whole[key] for key in docs), split
    s1 = whole["s1"]
    assert s1["members"] == 3 and s1["duplicates"] == 1
    assert s1["members_by_source"] == {"sputnik_arabic": 2, "other_site": 1}
    assert s1["members_by_language"] == {"ar": 2, "en": 1}
    # Earliest publication first, the url breaking a tie; an article without one is last.
    assert s1["first_article_id"] == "c2" and s1["first_url"] == "https://example.org/c2"
    assert s1["first_seen_at"] == (T0 + timedelta(minutes=30)).isoformat()
    # Linked both ways: s1's member links to s7, s2's member links to s1.
    assert s1["linked_stories"] == ["s2", "s7"] and whole["s2"]["linked_stories"] == ["s1"]
    # The link target s7 has no member here, so no document (its members are elsewhere).
    assert "s7" not in whole
    # As an aggregation prints a date's maximum: milliseconds, UTC.
    assert s1["updated_at"] == "2026-02-02T10:00:00.123Z"


def test_the_labelled_set_has_what_the_issue_asks_for() -> None:
    story_set = generate_story_set()
    kinds = {item.kind for item in story_set.items}
    assert len(story_set.items) >= 200 and story_set.stories >= 60
    assert kinds == {"original", "copy", "headline", "lead", "update"}
    karabakh_stories = {item.story for item in story_set.items if item.karabakh}
    assert {0, 1} <= karabakh_stories  # a pair on the same day, sharing sentences
    day = {item.article.published.date() for item in story_set.items if item.story in (0, 1)}
    assert len(day) == 1
    assert generate_story_set().items == story_set.items
