"""Extraction of the Sputnik fixture pages (tests/fixtures/sites/sputnik/articles.json is the
expected result of each), the generic path, and why the profile exists."""

from __future__ import annotations

import html as html_lib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trafilatura
from lxml import html as lxml_html

from news_ingest.extract import boilerplate
from news_ingest.extract.html import ExtractedArticle, extract_article
from news_ingest.extract.profiles import SPUTNIK, has_class, profile_by_id, profile_for_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SPUTNIK_DIR = FIXTURES / "sites" / "sputnik"
MANIFEST: list[dict[str, Any]] = json.loads(
    (SPUTNIK_DIR / "articles.json").read_text(encoding="utf-8")
)["articles"]
BY_FILE = {entry["file"]: entry for entry in MANIFEST}
SEED_FILE = "putin-macron-karabakh.html"
FLASH_FILE = "sochi-trilateral-meeting-flash.html"


def page(entry: dict[str, Any]) -> str:
    path: Path = SPUTNIK_DIR / entry["file"]
    return path.read_bytes().decode(entry["encoding"])


def extracted(entry: dict[str, Any]) -> ExtractedArticle:
    return extract_article(page(entry), entry["url"], profile_for_url(entry["url"]))


def paragraphs(article: ExtractedArticle) -> list[str]:
    return article.body.split("\n\n") if article.body else []


@pytest.fixture(params=MANIFEST, ids=lambda entry: entry["file"])
def entry(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(request.param)


# --- every fixture page, as the manifest says ----------------------------------------------


def test_fixture_page_text(entry: dict[str, Any]) -> None:
    article = extracted(entry)

    assert article.profile == "sputnik"
    assert article.title == entry["title"]
    assert article.lede == entry["lede"]
    # every body paragraph, in order, and nothing else
    assert paragraphs(article) == entry["body_paragraphs"]
    assert article.lede not in paragraphs(article)
    assert article.warnings == entry["warnings"]


def test_fixture_page_noise_absent(entry: dict[str, Any]) -> None:
    article = extracted(entry)
    page_text = html_lib.unescape(page(entry))

    for noise in entry["noise"]:
        # the noise is really on the page, and extraction leaves it out
        assert noise in page_text
        assert noise not in article.body
        assert noise not in (article.lede or "")
        assert noise not in (article.title or "")


def test_fixture_page_metadata(entry: dict[str, Any]) -> None:
    article = extracted(entry)

    assert article.canonical_url == entry["canonical_url"]
    assert article.published_at == datetime.fromisoformat(entry["published_at"])
    assert article.categories == entry["categories"]
    assert article.authors == entry["authors"]
    assert article.site_name == entry["site_name"]


def test_manifest_matches_the_seed() -> None:
    """The seed page carries the seed's text, and its three noise items."""
    seed = (FIXTURES / "seed" / "putin-macron-karabakh.txt").read_text(encoding="utf-8")
    lines = [" ".join(line.split()) for line in seed.splitlines() if line.strip()]
    title, lede, credit, teaser, *body, comments_header = lines
    entry = BY_FILE[SEED_FILE]

    assert (title, lede) == (entry["title"], entry["lede"])
    assert body == entry["body_paragraphs"]
    assert (credit, comments_header) == ("Sputnik", "مناقشة")
    assert {credit, teaser, comments_header} <= set(entry["noise"])


def test_cp1256_copy_extracts_like_the_original() -> None:
    copy = next(entry for entry in MANIFEST if entry["encoding"] == "windows-1256")
    raw = (SPUTNIK_DIR / copy["file"]).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b'<meta charset="windows-1256">' in raw

    original = BY_FILE[copy["copy_of"]]
    assert extracted(copy) == extracted(original)


def test_repeated_lede_is_not_kept_in_the_body() -> None:
    entry = next(entry for entry in MANIFEST if entry["lede_repeated_in_body"])
    page_text = html_lib.unescape(page(entry))
    assert page_text.count(f'<div class="article__text">{entry["lede"]}</div>') == 1

    assert entry["lede"] not in extracted(entry).body


# --- why the profile exists: plain trafilatura on the same pages -------------------------


def test_plain_trafilatura_drops_the_lede() -> None:
    """Sputnik's announce sits in the article header, outside the body trafilatura picks
    (the flash, below, is the exception: there it takes the whole header, noise and all)."""
    for entry in MANIFEST:
        if entry["lede_repeated_in_body"] or entry["file"] == FLASH_FILE:
            continue
        text = trafilatura.extract(page(entry)) or ""
        assert entry["lede"] not in " ".join(text.split()), entry["file"]


def test_plain_trafilatura_keeps_teaser_dates_and_photo_credits() -> None:
    seed = trafilatura.extract(page(BY_FILE[SEED_FILE])) or ""
    # the related-article teaser's date line, between the lede and the first paragraph
    assert "22 أكتوبر 2020, 18:35 GMT" in seed.splitlines()

    opec = trafilatura.extract(page(BY_FILE["opec-plus-output-cut.html"])) or ""
    assert "© AP Photo . Lisa Leutner" in opec.splitlines()


def test_plain_trafilatura_pulls_the_header_into_a_short_article() -> None:
    """On a one-paragraph flash trafilatura widens its search to the whole article block:
    date, view counter, headline, photo credit and the comment header ("مناقشة") come in."""
    entry = BY_FILE[FLASH_FILE]
    lines = [
        " ".join(line.split()) for line in (trafilatura.extract(page(entry)) or "").splitlines()
    ]

    assert entry["title"] in lines
    assert "© Sputnik . Grigory Sysoev" in lines
    assert "مناقشة" in lines
    assert "1024 مشاهدات" in lines


# --- the profile's safety nets -------------------------------------------------------------


def test_unknown_layout_falls_back_to_the_whole_page() -> None:
    """A renamed body class: the profile still prunes noise, the warning tells ops."""
    entry = BY_FILE[SEED_FILE]
    renamed = page(entry).replace("article__body ", "article__content ")

    article = extract_article(renamed, entry["url"], SPUTNIK)

    assert "profile-body-not-found" in article.warnings
    assert paragraphs(article) == entry["body_paragraphs"]
    assert article.lede == entry["lede"]


def test_noise_lines_are_dropped_exactly() -> None:
    """Credit and comment-header lines in markup the profile does not know."""
    entry = BY_FILE[SEED_FILE]
    text_block = '<div class="article__block" data-type="text">'
    unknown = '<div class="article__block" data-type="new"><div class="x">{}</div></div>'
    noisy = page(entry).replace(
        text_block, unknown.format("Sputnik") + unknown.format("مناقشة") + text_block, 1
    )

    without_net = extract_article(noisy, entry["url"], replace(SPUTNIK, drop_lines=frozenset()))
    article = extract_article(noisy, entry["url"], SPUTNIK)

    assert {"Sputnik", "مناقشة"} <= set(paragraphs(without_net))
    assert paragraphs(article) == entry["body_paragraphs"]


def test_generic_extraction_without_profile() -> None:
    entry = BY_FILE[SEED_FILE]

    article = extract_article(page(entry), entry["url"])

    assert article.profile is None
    # trafilatura drops the announce; the page's description is that text, shown on the
    # page, so it comes back as the lede
    assert article.lede == entry["lede"]
    assert article.lede not in paragraphs(article)
    assert "no-lede" not in article.warnings  # only a profile promises a lede
    assert set(entry["body_paragraphs"]) <= set(paragraphs(article))
    assert article.title == entry["title"]
    assert article.title not in paragraphs(article)
    assert article.canonical_url == entry["canonical_url"]
    assert article.published_at == datetime.fromisoformat(entry["published_at"])
    assert article.categories == entry["categories"]


# --- odd input and page metadata -----------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    ["", "   ", "\x00\x01 binary", "<p>a fragment</p>", "<div>" * 5000, "<html></html>"],
    ids=["empty", "blank", "binary", "fragment", "deep", "empty-html"],
)
@pytest.mark.parametrize("profile", [None, SPUTNIK], ids=["generic", "sputnik"])
def test_odd_html_returns_warnings(html: str, profile: Any) -> None:
    article = extract_article(html, "https://sarabic.ae/x.html", profile)

    assert article.body == ""
    assert "empty-body" in article.warnings
    assert article.published_at is None


def test_short_body_is_flagged() -> None:
    html = "<html><head></head><body><article><p>Two words.</p></article></body></html>"

    article = extract_article(html, "https://example.com/a")

    assert article.body == "Two words."
    assert "short-body" in article.warnings


def _head_only_page(head: str) -> str:
    body = "<p>" + "Word " * 80 + "</p>"
    return f"<html><head>{head}</head><body><article>{body}</article></body></html>"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        # RIA's basic ISO 8601 without offset: taken as UTC
        (
            '<meta property="article:published_time" content="20201024T1708">',
            datetime(2020, 10, 24, 17, 8, tzinfo=UTC),
        ),
        # unparseable meta: JSON-LD inside @graph is next
        (
            '<meta property="article:published_time" content="yesterday">'
            '<script type="application/ld+json">{broken</script>'
            '<script type="application/ld+json">'
            '{"@graph": [{"@type": "NewsArticle", "datePublished": "2020-10-24T20:08:00+03:00"}]}'
            "</script>",
            datetime(2020, 10, 24, 17, 8, tzinfo=UTC),
        ),
    ],
    ids=["basic-format", "json-ld-graph"],
)
def test_published_at_sources(head: str, expected: datetime) -> None:
    article = extract_article(_head_only_page(head), "https://example.com/a")

    assert article.published_at == expected


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/2020/a.html", "https://example.com/2020/a.html"),
        (
            "https://example.com/أخبار/1.html",
            "https://example.com/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1/1.html",
        ),
        ("https://example.com/a%20b?q=1#top", "https://example.com/a%20b?q=1#top"),
        ("javascript:void(0)", None),
    ],
    ids=["relative", "arabic-slug", "escaped", "not-http"],
)
def test_canonical_url_is_an_absolute_uri(href: str, expected: str | None) -> None:
    html = _head_only_page(f'<link rel="Canonical" href="{href}">')

    assert extract_article(html, "https://example.com/feed/item").canonical_url == expected


# --- profiles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://sarabic.ae/20201024/x.html", "sputnik"),
        ("https://WWW.SARABIC.AE:443/x", "sputnik"),
        ("https://arabic.sputniknews.com/x", "sputnik"),
        ("https://sputnikglobe.com/20200305/x.html", "sputnik"),
        ("https://notsarabic.ae/x", None),
        ("https://sarabic.ae.example.com/x", None),
        ("https://example.com/sarabic.ae", None),
        ("not a url", None),
    ],
)
def test_profile_for_url(url: str, expected: str | None) -> None:
    profile = profile_for_url(url)

    assert (profile.id if profile else None) == expected


def test_profile_by_id() -> None:
    assert profile_by_id("sputnik") is SPUTNIK
    with pytest.raises(KeyError, match="unknown site profile 'rt'; known profiles: sputnik"):
        profile_by_id("rt")


def test_has_class_matches_whole_tokens() -> None:
    tree = lxml_html.fromstring(
        '<div><div class="article__announce-text">lede</div>'
        '<div class=" media  article__announce">photo</div></div>'
    )

    assert [node.text for node in tree.xpath(f"//div[{has_class('article__announce')}]")] == [
        "photo"
    ]


# --- issue 15: NFC, split bodies, description ledes, quality, learned boilerplate ----------

PROSE = (
    "The delegations met for six hours on Tuesday and agreed to resume the talks on the "
    "border crossings, the water rights and the railway corridor after the holidays."
)


def _article_page(body: str, head: str = "", header: str = "") -> str:
    return (
        f"<html><head><title>Talks resume</title>{head}</head><body>"
        f"<header><nav><a href='/'>Home</a></nav>{header}</header>"
        f"<main>{body}</main><footer>© Fixture</footer></body></html>"
    )


def test_body_title_and_lede_are_nfc() -> None:
    decomposed = "ا\u0654" + "لمجلس" + " Cafe\u0301 " + PROSE  # alef + hamza above, e + acute
    html = _article_page(f"<article><h1>Cafe\u0301</h1><p>{decomposed}</p></article>")

    article = extract_article(html, "https://example.com/a")

    assert "\u0654" not in article.body and "\u0301" not in article.body
    assert article.body.startswith("أ")
    assert article.title == "Caf\u00e9"


def test_a_body_split_around_an_ad_is_merged() -> None:
    first = "".join(f"<p>Part one, paragraph {n}. {PROSE}</p>" for n in range(4))
    second = "".join(f"<p>Part two, paragraph {n}. {PROSE}</p>" for n in range(2))
    body = (
        f"<div class='chunks'><div class='grid'><div class='body__text'>{first}</div>"
        "<aside class='rail'><a href='/ad'>Advertisement</a></aside></div>"
        "<div class='ad-slot'><a href='/x'>Sponsored: buy now</a></div>"
        f"<div class='grid'><div class='body__text'>{second}</div></div></div>"
    )

    article = extract_article(_article_page(body), "https://example.com/a")

    lines = paragraphs(article)
    assert [line.split(".")[0] for line in lines] == [
        *(f"Part one, paragraph {n}" for n in range(4)),
        *(f"Part two, paragraph {n}" for n in range(2)),
    ]
    assert "Sponsored" not in article.body


def test_containers_of_another_kind_are_not_merged() -> None:
    own = "".join(f"<p>Own paragraph {n}. {PROSE}</p>" for n in range(4))
    bio = f"<p>About the author: {PROSE}</p>"
    body = (
        f"<div class='post'><div class='widget'>{own}</div></div>"
        f"<div class='sidebar'><div class='widget'>{bio}</div></div>"
    )

    article = extract_article(_article_page(body), "https://example.com/a")

    assert "About the author" not in article.body


def test_a_profile_body_keeps_every_matching_node() -> None:
    entry = BY_FILE[SEED_FILE]
    split = replace(SPUTNIK, body_xpath=f"//div[{has_class('article__text')}]")

    article = extract_article(page(entry), entry["url"], split)

    # every text block of the article, not the first one only
    assert paragraphs(article) == entry["body_paragraphs"]


def test_description_shown_in_the_header_becomes_the_lede() -> None:
    standfirst = "Six hours of talks ended with an agreement to meet again after the holidays."
    html = _article_page(
        "".join(f"<article><p>{PROSE} {n}</p></article>" for n in range(3)),
        head=f'<meta name="description" content="{standfirst}">',
        header=f"<h1>Talks resume</h1><p class='standfirst'>{standfirst}</p>",
    )

    article = extract_article(html, "https://example.com/a")

    assert article.lede == standfirst
    assert standfirst not in article.body


@pytest.mark.parametrize(
    "description",
    [
        "Six hours of talks ended with an agreement...",  # truncated: a teaser, not a lede
        "A description that the page never shows anywhere as text of its own.",
        PROSE,  # the body's own paragraph: it stays in the body
    ],
    ids=["truncated", "not-shown", "in-body"],
)
def test_description_that_is_not_a_dropped_standfirst_is_no_lede(description: str) -> None:
    html = _article_page(
        f"<article><p>{PROSE}</p><p>{PROSE} Again.</p></article>",
        head=f'<meta name="description" content="{description}">',
    )

    article = extract_article(html, "https://example.com/a")

    assert article.lede is None
    assert PROSE in paragraphs(article)


def test_quality_scores_an_article_above_a_menu_dump() -> None:
    article = extract_article(
        _article_page("".join(f"<p>{PROSE} {n}</p>" for n in range(6))), "https://example.com/a"
    )
    menu = "".join(f"<li><a href='/s{n}'>Section number {n}</a></li>" for n in range(60))
    dump = extract_article(_article_page(f"<ul>{menu}</ul>"), "https://example.com/b")

    assert article.quality > 0.9
    assert 0 <= dump.quality < 0.5


def test_sputnik_scores_a_full_article_high_and_a_flash_lower() -> None:
    full, flash = extracted(BY_FILE[SEED_FILE]).quality, extracted(BY_FILE[FLASH_FILE]).quality

    assert full >= 0.9
    # a one-paragraph flash is a real article, but less of one: short and warned about
    assert 0.3 <= flash < full


def test_learned_boilerplate_is_dropped_and_still_counted() -> None:
    chrome = "Comments are moderated: keep to the subject and respect the other readers."
    html = _article_page(f"<article><p>{PROSE}</p><p>{PROSE} Two.</p><p>{chrome}</p></article>")
    learned = frozenset({boilerplate.line_hash(chrome)})

    cold = extract_article(html, "https://example.com/a")
    warm = extract_article(html, "https://example.com/a", learned_boilerplate=learned)

    assert chrome in paragraphs(cold)
    assert chrome not in warm.body and PROSE in paragraphs(warm)
    # the hashes are of the lines before the drop: the source's counts keep seeing the line
    assert warm.line_hashes == cold.line_hashes
    assert boilerplate.line_hash(chrome) in warm.line_hashes


def test_profile_pages_neither_learn_nor_drop() -> None:
    entry = BY_FILE[SEED_FILE]
    everything = frozenset(boilerplate.page_hashes(entry["body_paragraphs"]))

    article = extract_article(page(entry), entry["url"], SPUTNIK, learned_boilerplate=everything)

    assert paragraphs(article) == entry["body_paragraphs"]
    assert article.line_hashes == []


def test_split_body_search_survives_odd_tag_names() -> None:
    parts = "".join(f"<p>{PROSE} {n}</p>" for n in range(4))
    body = f"<x-part class='text'>{parts}</x-part><x-part class='text'><p>{PROSE} end</p></x-part>"

    article = extract_article(_article_page(body), "https://example.com/a")

    assert PROSE + " 0" in paragraphs(article)
