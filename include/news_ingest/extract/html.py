"""Article extraction: one decoded HTML page in, title, lede, body and page metadata out.

Pure (no I/O). trafilatura finds the body. When the site has a profile (profiles.py), the
profile first removes the site's known boilerplate, points trafilatura at the body element
and supplies the lede, which trafilatura does not return on Sputnik's layout: the announce
text sits in the article header, outside the body trafilatura selects (tests/unit/
test_extract.py pins that observation).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree
from lxml.html import HtmlElement
from pydantic import BaseModel, ConfigDict
from trafilatura import bare_extraction, extract_metadata, load_html
from trafilatura.settings import Document

from news_ingest.extract.profiles import SiteProfile
from news_ingest.text.dates import parse_arabic_date

# Below trafilatura's own threshold for trusting an extraction (MIN_EXTRACTED_SIZE) a body
# is worth a look: a one-line flash is fine, a paywall or a changed layout is not.
SHORT_BODY_CHARS = 250

# Characters a URI may carry literally; everything else (non-ASCII above all: Sputnik Arabic
# writes Arabic slugs into its canonical links) is percent-encoded as UTF-8.
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"


class ExtractedArticle(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str | None
    lede: str | None
    # Paragraphs (headings, quotes and list items included) joined with a blank line.
    body: str
    authors: list[str]
    published_at: datetime | None
    # The page's own "modified" timestamp, when it has one.
    modified_at: datetime | None = None
    canonical_url: str | None
    # The page's section(s) first, then its tags.
    categories: list[str]
    site_name: str | None
    profile: str | None
    warnings: list[str]


def _norm(text: str) -> str:
    # Collapses every whitespace run, no-break spaces included: Sputnik puts U+00A0 between
    # words, and watchlist matching downstream expects plain spaces.
    return " ".join(text.split())


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _texts(tree: HtmlElement, xpath: str) -> list[str]:
    return _unique([_norm(node.text_content()) for node in tree.xpath(xpath)])


def _first_text(tree: HtmlElement, xpath: str) -> str | None:
    texts = _texts(tree, xpath)
    return texts[0] if texts else None


def _meta_contents(tree: HtmlElement, key: str) -> list[str]:
    """content of every <meta property=key> or <meta name=key>, in page order."""
    values = tree.xpath("//meta[@property=$key or @name=$key]/@content", key=key)
    return _unique([_norm(str(value)) for value in values])


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Top-level JSON-LD objects and members of their @graph; broken scripts are skipped."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                yield item
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)


def _parse_timestamp(value: str) -> datetime | None:
    """ISO 8601 in its extended or basic form (RIA/Sputnik write "20201024T1708+0000").
    A timestamp without offset is taken as UTC, as Elasticsearch would take it."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _published_at(
    tree: HtmlElement, fallback_date: str | None, now: datetime | None
) -> datetime | None:
    """The first parseable explicit timestamp of the page, else a date written in its text
    (Arabic month names, digits, relative times: news_ingest.text.dates), else
    trafilatura's date (htmldate: URL, text and markup heuristics, no time of day)."""
    explicit = _first_timestamp(
        [
            *_meta_contents(tree, "article:published_time"),
            *_json_ld_strings(tree, "datePublished"),
            *(str(value) for value in tree.xpath('//*[@itemprop="datePublished"]/@content')),
            *(str(value) for value in tree.xpath('//time[@itemprop="datePublished"]/@datetime')),
        ]
    )
    if explicit is not None:
        return explicit
    if now is not None:
        for text in tree.xpath(VISIBLE_DATE_XPATH)[:VISIBLE_DATE_CANDIDATES]:
            written = parse_arabic_date(_norm(str(text)), now=now, default_tz=UTC)
            if written is not None:
                return written
    return _first_timestamp([fallback_date] if fallback_date else [])


def _modified_at(tree: HtmlElement) -> datetime | None:
    return _first_timestamp(
        [
            *_meta_contents(tree, "article:modified_time"),
            *_json_ld_strings(tree, "dateModified"),
            *(str(value) for value in tree.xpath('//*[@itemprop="dateModified"]/@content')),
        ]
    )


def _json_ld_strings(tree: HtmlElement, key: str) -> list[str]:
    return [str(obj[key]) for obj in _json_ld_objects(tree) if isinstance(obj.get(key), str)]


def _first_timestamp(candidates: list[str]) -> datetime | None:
    for candidate in candidates:
        parsed = _parse_timestamp(candidate)
        if parsed is not None:
            return parsed
    return None


# Elements whose text is a date as readers see it; few are tried, the page's header first.
VISIBLE_DATE_XPATH = (
    "//time/text() | //*[contains(@class, 'date') or contains(@class, 'time')"
    " or contains(@itemprop, 'date')][not(ancestor::*[contains(@class, 'comment')])]/text()"
)
VISIBLE_DATE_CANDIDATES = 8


def _as_uri(url: str) -> str:
    """IRI to URI: percent-encode what is not URI-safe outside the host, keep escapes."""
    parts = urlsplit(url)
    return urlunsplit(
        parts._replace(
            path=quote(parts.path, safe=_URI_SAFE),
            query=quote(parts.query, safe=_URI_SAFE),
            fragment=quote(parts.fragment, safe=_URI_SAFE),
        )
    )


def _canonical_url(tree: HtmlElement, page_url: str) -> str | None:
    for link in tree.iterfind(".//link[@rel][@href]"):
        href = (link.get("href") or "").strip()
        if "canonical" in (link.get("rel") or "").lower().split() and href:
            absolute = urljoin(page_url, href)
            if urlsplit(absolute).scheme in ("http", "https"):
                return _as_uri(absolute)
    return None


def _drop_nodes(tree: HtmlElement, xpaths: tuple[str, ...]) -> None:
    for xpath in xpaths:
        for node in tree.xpath(xpath):
            if node.getparent() is not None:
                # drop_tree keeps the node's tail text, which belongs to the parent
                node.drop_tree()


def _scope(tree: HtmlElement, body_xpath: str) -> HtmlElement | None:
    """A page holding only the first body element, or None when the layout has none.

    Scoping is what keeps short articles clean: when the body is small, trafilatura widens
    its search (recall escalation) and pulls in the header's date, view counter and photo
    credit and the comment header.
    """
    matches = tree.xpath(body_xpath)
    if not matches:
        return None
    page = lxml.html.Element("html")
    etree.SubElement(page, "body").append(matches[0])
    return page


def _paragraphs(tree: HtmlElement, url: str) -> list[str]:
    document = bare_extraction(
        tree,
        url=url,
        # metadata comes from the whole page, before any profile pruning
        with_metadata=False,
        # Reader comments are not the article. On the benchmark (bench/extraction.py) this is
        # the one option whose gain is outside the bootstrap noise: F1 0.953 -> 0.960.
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        # Balanced mode. Precision mode scored F1 +0.004 and fast mode +0.002 there, both
        # well inside the noise, and precision mode cut recall on 6 pages by >5 points: a
        # lost paragraph can be a missed watchlist hit, a kept boilerplate line rarely is.
        favor_precision=False,
        favor_recall=False,
        fast=False,
        deduplicate=False,
    )
    if not isinstance(document, Document) or not document.text:
        return []
    return [line for line in map(_norm, document.text.splitlines()) if line]


def _warnings(
    title: str | None, lede: str | None, body: str, profile: SiteProfile | None
) -> list[str]:
    warnings = []
    if not title:
        warnings.append("no-title")
    # Only a profile promises a lede; without one, every page would carry this warning.
    if profile is not None and not lede:
        warnings.append("no-lede")
    if not body:
        warnings.append("empty-body")
    elif len(body) < SHORT_BODY_CHARS:
        warnings.append("short-body")
    return warnings


def extract_article(
    html: str, url: str, profile: SiteProfile | None = None, now: datetime | None = None
) -> ExtractedArticle:
    """Extract one article page. Never raises on odd HTML: problems come back as warnings.

    ``now`` (the fetch time) lets a page that only says "منذ ساعتين" have a date."""
    tree = load_html(html)
    if tree is None:
        return ExtractedArticle(
            title=None,
            lede=None,
            body="",
            authors=[],
            published_at=None,
            canonical_url=None,
            categories=[],
            site_name=None,
            profile=profile.id if profile else None,
            warnings=["unparseable-html", *_warnings(None, None, "", profile)],
        )

    # Everything read from the page happens before the profile prunes it (tags, for one,
    # live in a node the profile drops).
    metadata = extract_metadata(tree, default_url=url)
    title = _norm(metadata.title or "") or None
    authors = _unique([_norm(name) for name in (metadata.author or "").split(";")])
    categories = [
        *_meta_contents(tree, "article:section"),
        *(_norm(category) for category in metadata.categories or []),
        *_meta_contents(tree, "article:tag"),
    ]
    published_at = _published_at(tree, metadata.date, now)
    modified_at = _modified_at(tree)
    canonical_url = _canonical_url(tree, url)
    lede: str | None = None
    body_tree: HtmlElement = tree
    warnings: list[str] = []
    if profile is not None:
        title = _first_text(tree, profile.title_xpath) or title
        lede = _first_text(tree, profile.lede_xpath)
        authors = _texts(tree, profile.authors_xpath) or authors
        categories += _texts(tree, profile.categories_xpath)
        _drop_nodes(tree, (*profile.drop_xpaths, profile.lede_xpath))
        scoped = _scope(tree, profile.body_xpath)
        if scoped is None:
            warnings.append("profile-body-not-found")
        else:
            body_tree = scoped

    paragraphs = _paragraphs(body_tree, url)
    if profile is not None:
        paragraphs = [line for line in paragraphs if line not in profile.drop_lines]
    # The headline and the lede are fields of their own, not body: trafilatura keeps the
    # <h1> as a body line on many layouts (39 of the 181 benchmark pages), and Sputnik's CMS
    # can repeat the announce as the first paragraph.
    paragraphs = [line for line in paragraphs if line not in (title, lede)]
    body = "\n\n".join(paragraphs)

    return ExtractedArticle(
        title=title,
        lede=lede,
        body=body,
        authors=authors,
        published_at=published_at,
        modified_at=modified_at,
        canonical_url=canonical_url,
        categories=_unique(categories),
        site_name=_norm(metadata.sitename or "") or None,
        profile=profile.id if profile else None,
        warnings=[*warnings, *_warnings(title, lede, body, profile)],
    )
