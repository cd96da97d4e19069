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
