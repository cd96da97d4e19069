from __future__ import annotations

import re
from pathlib import Path

import pytest

from news_ingest.configfile import ConfigError
from news_ingest.settings import PROJECT_ROOT
from news_ingest.text.watchlists import (
    LogChannel,
    SlackChannel,
    Watchlist,
    explain_match,
    load_watchlists,
    match_watchlist,
    snippet,
)

WATCHLISTS_YAML = PROJECT_ROOT / "include" / "config" / "watchlists.yaml"


@pytest.fixture(scope="module")
def karabakh() -> Watchlist:
    (watchlist,) = (w for w in load_watchlists(WATCHLISTS_YAML) if w.id == "karabakh")
    return watchlist


# (text, the surface form the match must report)
POSITIVE = [
    # Arabic: the spellings analysts meet.
    ("الأطراف في قره باغ", "قره باغ"),
    ("الأطراف في قرة باغ", "قرة باغ"),
    ("منطقة قرا باغ الجبلية", "قرا باغ"),
    ("إقليم قارا باغ", "قارا باغ"),
    ("الحرب في كاراباخ", "كاراباخ"),
    ("الحرب في كاراباغ", "كاراباغ"),
    ("معارك قاراباغ", "قاراباغ"),
    ("نزاع قراباغ", "قراباغ"),
    ("إقليم كراباخ", "كراباخ"),
    ("منطقة قره باخ", "قره باخ"),
    ("منطقة كارا باخ", "كارا باخ"),
    ("النزاع الكاراباخي", "الكاراباخي"),
    # With the region's full name, spaced or hyphenated.
    ("منطقة ناغورني قره باغ", "ناغورني قره باغ"),
    ("إقليم ناغورنو كاراباخ", "ناغورنو كاراباخ"),
    ("ناغورنوي قره باغ", "قره باغ"),
    ("ناغورنى قره باغ", "ناغورنى قره باغ"),
    ("أزمة ناغورني-قره باغ", "ناغورني-قره باغ"),
    ("أزمة قره-باغ", "قره-باغ"),
    ("أزمة قره – باغ", "قره – باغ"),
    # Proclitics on the first word.
    ("وقره باغ منطقة متنازع عليها", "وقره باغ"),
    ("العودة بكاراباخ", "بكاراباخ"),
    ("لناغورني قره باغ", "لناغورني قره باغ"),
    ("والكاراباخ", "والكاراباخ"),
    ("للكاراباخ", "للكاراباخ"),
    ("فكاراباخ", "فكاراباخ"),
    ("وبقره باغ", "وبقره باغ"),
    # Tashkeel, tatweel, hamza variants, invisible characters, Persian-style ZWNJ.
    ("قَرَه بَاغ", "قَرَه بَاغ"),
    ("كَارَابَاخ", "كَارَابَاخ"),
    ("قــره بـــاغ", "قــره بـــاغ"),
    ("ناغـورني قـرة بـاغ", "ناغـورني قـرة بـاغ"),
    ("أرتساخ", "أرتساخ"),
    ("آرتساخ", "آرتساخ"),
    ("ارتساخ", "ارتساخ"),
    ("قره\u200cباغ", "قره\u200cباغ"),
    ("قره\u200fباغ", "قره\u200fباغ"),
    # Places on either side's map.
    ("عاصمة الإقليم ستيباناكيرت", "ستيباناكيرت"),
    ("مدينة خانكندي", "خانكندي"),
    ("مدينة شوشا", "شوشا"),
    ("عبر ممر لاتشين", "ممر لاتشين"),
    # English.
    ("fighting in Nagorno-Karabakh", "Nagorno-Karabakh"),
    ("nagorno karabakh", "nagorno karabakh"),
    ("KARABAKH talks", "KARABAKH"),
    ("in Karabagh", "Karabagh"),
    ("Nagorny Karabakh", "Nagorny Karabakh"),
    ("Karabakh's capital", "Karabakh"),
    ("the Artsakh Republic", "Artsakh"),
    ("shelling of Stepanakert", "Stepanakert"),
    ("the Lachin corridor", "Lachin corridor"),
    ("Shusha fell", "Shusha"),
    # Russian, with case endings.
    ("конфликт в Карабахе", "Карабахе"),
    ("Карабах", "Карабах"),
    ("вокруг Карабаха", "Карабаха"),
    ("с Карабахом", "Карабахом"),
    ("Нагорный Карабах", "Нагорный Карабах"),
    ("статус Нагорного Карабаха", "Нагорного Карабаха"),
    ("в Нагорном Карабахе", "Нагорном Карабахе"),
    ("карабахский конфликт", "карабахский"),
    ("Республика Арцах", "Арцах"),
    ("в Степанакерте", "Степанакерте"),
    ("в Шуше", "Шуше"),
    ("НАГОРНЫЙ КАРАБАХ", "НАГОРНЫЙ КАРАБАХ"),
    # French.
    ("le Haut-Karabakh", "Haut-Karabakh"),
    ("du Haut-Karabagh", "Haut-Karabagh"),
    ("au Karabagh", "Karabagh"),
    # Azerbaijani.
    ("Qarabağ münaqişəsi", "Qarabağ"),
    ("Xankəndi şəhəri", "Xankəndi"),
]

NEGATIVE = [
    # Parts of the name on their own.
    "حديقة باغ شاهزاده في كرمان",
    "بلدة ناغورني",
    # The idiom "قرة عين" (joy of one's eye) shares قرة.
    "كان ابنه قرة عينه",
    "هو قرة العين لوالديه",
    # Other places that start alike.
    "انفجار في بغداد",
    "Baghdad airport",
    "منطقة قره داغ في السليمانية",
    "بلدة قره قوش",
    "مدينة كاراباش الروسية",
    "رحلة إلى كراتشي",
    "the Kara Sea",
    "Karadag nature reserve",
    "Karabük university",
    "Karachi port",
    "город Карабаш",
    "Карабанов забил",
    "Карачаево-Черкесия",
    # Ordinary words that contain or resemble a proclitic + a term.
    "Karaoke night",
    "بقرة باغية",
    "فقرة جديدة",
    # The football club named after the region (an exclusion).
    "فاز نادي قره باغ الأذربيجاني على ضيفه",
    "تعادل فريق كاراباخ مع أياكس",
    "Qarabag FK beat Ajax",
    "ФК «Карабах» обыграл соперника",
    "FK Qarabağ oyunu",
]


@pytest.mark.parametrize(("text", "surface"), POSITIVE)
def test_karabakh_spellings_match(karabakh: Watchlist, text: str, surface: str) -> None:
    match = match_watchlist(karabakh, {"text": text})
    assert match is not None
    assert match.surface_forms == (surface,)


@pytest.mark.parametrize("text", NEGATIVE)
def test_lookalikes_do_not_match(karabakh: Watchlist, text: str) -> None:
    assert match_watchlist(karabakh, {"title": text, "text": text}) is None


def test_match_reports_terms_surfaces_field_and_snippet(karabakh: Watchlist) -> None:
    body = ("كلام تمهيدي طويل " * 30) + "تصعيد في ناغورنيّ قرةٌ باغ. " + ("ثم كلام آخر " * 30)
    match = match_watchlist(
        karabakh, {"title": "عنوان بلا مصطلح", "text": body, "lede": "وبكاراباخ"}
    )
    assert match is not None
    assert match.watchlist_id == "karabakh"
    assert match.severity == "high"
    assert match.field == "text"
    assert match.terms == ("ناغورني قره باغ", "كاراباخ")
    assert match.surface_forms == ("ناغورنيّ قرةٌ باغ", "وبكاراباخ")
    assert [hit.field for hit in match.hits] == ["text", "lede"]
    assert match.hits[1].proclitic == "وب"
    assert "تصعيد في ناغورنيّ قرةٌ باغ." in match.snippet
    assert match.snippet.startswith("…") and match.snippet.endswith("…")
    assert len(match.snippet) <= 202


def test_exclusion_suppresses_only_the_occurrence_it_contains(karabakh: Watchlist) -> None:
    text = "فاز نادي قره باغ على ضيفه، بينما تواصل القتال في ناغورني قره باغ"
    match = match_watchlist(karabakh, {"text": text})
    assert match is not None
    assert [hit.surface for hit in match.hits] == ["ناغورني قره باغ"]
    assert match.hits[0].start == text.index("ناغورني")


def test_explain_shows_term_normalised_form_clitic_and_exclusion(karabakh: Watchlist) -> None:
    explanation = explain_match(karabakh, "لِقَرَة باغ ونادي قره باغ")
    assert explanation.matched
    assert explanation.normalized_text == "لقره باغ ونادي قره باغ"
    (hit,) = explanation.hits
    assert (hit.term, hit.surface, hit.normalized, hit.proclitic) == (
        "قره باغ",
        "لِقَرَة باغ",
        "لقره باغ",
        "ل",
    )
    (suppressed,) = explanation.suppressed
    assert (suppressed.exclusion, suppressed.exclusion_surface) == ("نادي قره باغ", "ونادي قره باغ")
    rendered = explanation.render()
    assert "MATCH" in rendered
    assert "proclitic 'ل' stripped" in rendered
    assert "inside exclusion 'نادي قره باغ'" in rendered


def test_explain_a_text_without_terms(karabakh: Watchlist) -> None:
    explanation = explain_match(karabakh, "قرة عين")
    assert not explanation.matched
    assert "no match" in explanation.render()
    assert "no term of the watchlist occurs" in explanation.render()


def test_snippet_keeps_the_original_text_and_cuts_between_words() -> None:
    text = "أ" * 5 + " " + " ".join(f"كلمة{i}" for i in range(100)) + " قَرَةُ باغ " + "نهاية " * 50
    start = text.index("قَرَةُ")
    cut = snippet(text, start, start + len("قَرَةُ باغ"))
    assert "قَرَةُ باغ" in cut
    words = cut.strip("…").split()
    assert all(word in text.split() for word in words)
    assert len(cut) <= 202
    assert snippet("قره باغ", 0, 7) == "قره باغ"
    assert snippet(text, 0, 5).startswith("أأأأأ ")


def test_shipped_channels_and_severity(karabakh: Watchlist) -> None:
    assert karabakh.severity in {"high", "critical"}
    assert isinstance(karabakh.channels[0], LogChannel)


def write(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "watchlists.yaml"
    path.write_text("watchlists:\n" + entry, "utf-8")
    return path


BASE = "  - id: w\n    name: W\n    severity: high\n    channels: [{type: log}]\n"


def test_channels_are_typed_by_their_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE.replace("[{type: log}]", "[{type: slack, webhook_url_env: NEWS_INGEST_SLACK_URL}]")
        + "    terms: {ar: [قره باغ]}\n",
    )
    (watchlist,) = load_watchlists(path)
    assert watchlist.channels == [
        SlackChannel(type="slack", webhook_url_env="NEWS_INGEST_SLACK_URL")
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            BASE + "    terms: {ar: [قره باغ]}\n    exclusions: {ar: [نادي برشلونة]}\n",
            "exclusion 'نادي برشلونة' contains no term",
        ),
        (
            BASE + "    terms: {ar: [قره باغ]}\n    exclusions: {ar: [قرة باغ]}\n",
            "exclusion 'قرة باغ' is the term 'قره باغ' itself",
        ),
        (
            BASE + "    terms: {ar: [قره باغ], en: [Karabakh], fr: [karabakh]}\n",
            "'karabakh' is the same as 'Karabakh' once normalised",
        ),
        (BASE.replace("high", "urgent") + "    terms: {ar: [قره باغ]}\n", "field 'severity'"),
        (BASE + "    terms: {arabic: [قره باغ]}\n", "field 'terms.arabic"),
        (
            BASE.replace("{type: log}", "{type: slack, webhook_url_env: 'https://hooks/x'}")
            + "    terms: {ar: [قره باغ]}\n",
            "field 'channels.0.slack.webhook_url_env'",
        ),
        (BASE.replace("{type: log}", "{type: pager}") + "    terms: {ar: [قره باغ]}\n", "pager"),
        (BASE.replace("[{type: log}]", "[]") + "    terms: {ar: [قره باغ]}\n", "channels"),
        (BASE + "    terms: {ar: []}\n", "needs at least one entry under terms or names"),
        (BASE + "    names: {ar: [شوشا]}\n", "name 'شوشا' is too short for variant matching"),
        (
            BASE + "    terms: {ar: [قره باغ]}\n    names: {ar: [قرة باغ]}\n",
            "'قرة باغ' is the same as 'قره باغ' once normalised",
        ),
    ],
)
def test_config_errors_name_the_file_the_watchlist_and_the_fix(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = write(tmp_path, entry)
    expected = re.escape(f"{path}: watchlists entry #1 (id 'w'): ") + ".*" + re.escape(message)
    with pytest.raises(ConfigError, match=expected):
        load_watchlists(path)
