"""Article extraction: one decoded HTML page in, title, lede, body and page metadata out.

Pure (no I/O). trafilatura finds the body. When the site has a profile (profiles.py), the
profile first removes the site's known boilerplate, points trafilatura at the body element
and supplies the lede, which trafilatura does not return on Sputnik's layout: the announce
text sits in the article header, outside the body trafilatura selects (tests/unit/
test_extract.py pins that observation).
"""

from __future__ import annotations

import contextlib
import json
import unicodedata
from collections.abc import Iterator
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import lxml.html
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from pydantic import BaseModel, ConfigDict
from trafilatura import bare_extraction, load_html
from trafilatura.metadata import examine_meta, extract_meta_json, extract_title
from trafilatura.settings import Document

from news_ingest.extract import boilerplate, quality
from news_ingest.extract.profiles import SiteProfile
from news_ingest.text.dates import parse_arabic_date

# Below trafilatura's own threshold for trusting an extraction (MIN_EXTRACTED_SIZE) a body
# is worth a look: a one-line flash is fine, a paywall or a changed layout is not.
SHORT_BODY_CHARS = 250
# Below this quality (quality.py) the fast pass's result is checked against trafilatura's
# full cascade (readability and justext): what a whole-page dump of menus scores.
WEAK_QUALITY = 0.5
# A split body's other parts: as many characters as a short paragraph, few of them links.
TWIN_MIN_CHARS = 200
TWIN_MAX_LINK_DENSITY = 0.3
TWIN_LEVELS = 3
# A description shorter than this is a tagline, not a standfirst.
LEDE_MIN_CHARS = 60

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
    # 0..1, quality.py: how much the extraction looks like an article.
    quality: float
    # boilerplate.page_hashes of the body lines before learned boilerplate was dropped
    # (pages without a profile only): what the source's line counts learn from.
    line_hashes: list[str]


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


def _published_at(tree: HtmlElement, url: str, now: datetime | None) -> datetime | None:
    """The first parseable explicit timestamp of the page, else a date written in its text
    (Arabic month names, digits, relative times: news_ingest.text.dates), else htmldate's
    date (URL, text and markup heuristics), which has no time of day and is searched for
    only then."""
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
    found = find_date(tree, url=url, original_date=True, extensive_search=True)
    return _parse_timestamp(found) if isinstance(found, str) else None


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


def _outermost(nodes: list[HtmlElement]) -> list[HtmlElement]:
    """The nodes not inside another one of them, in page order."""
    chosen = set(nodes)
    return [node for node in nodes if not any(a in chosen for a in node.iterancestors())]


def _page_of(nodes: list[HtmlElement]) -> HtmlElement:
    page = lxml.html.Element("html")
    body = etree.SubElement(page, "body")
    for node in nodes:
        body.append(node)
    return page


def _scope(tree: HtmlElement, body_xpath: str) -> HtmlElement | None:
    """A page holding only the body elements (every match: an article can be split in
    several containers around ads), or None when the layout has none.

    Scoping is what keeps short articles clean: when the body is small, trafilatura widens
    its search (recall escalation) and pulls in the header's date, view counter and photo
    credit and the comment header.
    """
    matches = _outermost(tree.xpath(body_xpath))
    return _page_of(matches) if matches else None


def _paragraphs(tree: HtmlElement, url: str, *, fast: bool) -> list[str]:
    document = bare_extraction(
        tree,
        url=url,
        # metadata is read once from the whole page (extract_article), not here
        with_metadata=False,
        # Reader comments are not the article. On the benchmark (bench/extraction.py) this is
        # the one option whose gain is outside the bootstrap noise: F1 0.953 -> 0.960.
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        # Balanced mode. Precision mode scored F1 +0.004 there, inside the noise, and cut
        # recall on 6 pages by >5 points: a lost paragraph can be a missed watchlist hit, a
        # kept boilerplate line rarely is.
        favor_precision=False,
        favor_recall=False,
        # fast skips the readability/justext comparison, about 40% of trafilatura's time;
        # extract_article asks for it only when the fast result looks weak.
        fast=fast,
        deduplicate=False,
    )
    if not isinstance(document, Document) or not document.text:
        return []
    return [line for line in map(_norm, document.text.splitlines()) if line]


def _link_texts(tree: HtmlElement) -> frozenset[str]:
    return frozenset(_norm(anchor.text_content()) for anchor in tree.iter("a"))


def _link_density(links: frozenset[str], paragraphs: list[str]) -> float:
    """Share of the body's characters in lines that are the whole text of a link."""
    total = sum(len(line) for line in paragraphs)
    if not total:
        return 0.0
    return sum(len(line) for line in paragraphs if line in links) / total


def _container(tree: HtmlElement, paragraphs: list[str]) -> HtmlElement | None:
    """The innermost element holding every <p> of the page whose text is a body line."""
    lines = {line for line in paragraphs if len(line) >= quality.PROSE_LINE_CHARS // 2}
    found = [p for p in tree.iter("p") if _norm(p.text_content()) in lines]
    if not found:
        return None
    common = list(found[0].iterancestors())
    for paragraph in found[1:]:
        ancestors = set(paragraph.iterancestors())
        common = [node for node in common if node in ancestors]
    return common[0] if common else None


def _prose_rich(node: HtmlElement) -> bool:
    text = _norm(node.text_content())
    links = sum(len(_norm(anchor.text_content())) for anchor in node.iter("a"))
    return len(text) >= TWIN_MIN_CHARS and links <= TWIN_MAX_LINK_DENSITY * len(text)


def _signature(node: HtmlElement | None) -> tuple[str, str] | None:
    return None if node is None else (str(node.tag), node.get("class") or "")


def _cousins(node: HtmlElement, other: HtmlElement) -> bool:
    """Siblings, or children of siblings alike (same tag and class) under one parent: how a
    body split around ads is laid out, each part wrapped or not."""
    parent, other_parent = node.getparent(), other.getparent()
    if parent is None or other_parent is None:
        return False
    if parent is other_parent:
        return True
    return (
        _signature(parent) == _signature(other_parent)
        and parent.getparent() is not None
        and parent.getparent() is other_parent.getparent()
    )


def _twins(tree: HtmlElement, container: HtmlElement) -> list[HtmlElement]:
    """Other parts of a body split over sibling containers: elements with the tag and class
    of the nearest classed ancestor-or-self of the main text's container (at most
    TWIN_LEVELS up), laid out as its siblings, that hold prose. Ads or promos sit between
    the parts, and trafilatura keeps the one part it chose."""
    node: HtmlElement | None = container
    for _ in range(TWIN_LEVELS):
        # an odd tag name (the parser keeps whatever the page wrote) is no XPath name test
        if node is None or node.tag in ("body", "html") or not str(node.tag).isalnum():
            return []
        css_class = node.get("class")
        if css_class:
            return [
                twin
                for twin in tree.xpath(f"//{node.tag}[@class=$c]", c=css_class)
                if twin is not node and _cousins(node, twin) and _prose_rich(twin)
            ]
        node = node.getparent()
    return []


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _merge_twins(
    tree: HtmlElement, url: str, container: HtmlElement, paragraphs: list[str]
) -> list[str]:
    twins = _twins(tree, container)
    if not twins:
        return paragraphs
    wanted = {container, *twins}
    order = {node: index for index, node in enumerate(tree.iter()) if node in wanted}
    # compared without spaces: a part trafilatura already took may come back split or
    # joined differently
    seen = _squeezed(" ".join(paragraphs))
    before: list[str] = []
    after: list[str] = []
    for twin in sorted(twins, key=order.__getitem__):
        # a copy: the page stays whole for what is read from it afterwards
        lines = _paragraphs(_page_of([deepcopy(twin)]), url, fast=True)
        new = [line for line in lines if _squeezed(line) not in seen]
        (before if order[twin] < order[container] else after).extend(new)
        seen += _squeezed(" ".join(new))
    return [*before, *paragraphs, *after]


def _description_lede(
    tree: HtmlElement, description: str | None, paragraphs: list[str]
) -> str | None:
    """The page's description, when the page shows it as the whole text of one element and
    the body left it out: a standfirst trafilatura dropped (news sites put it in the
    article header, outside the container it picks)."""
    if not description or len(description) < LEDE_MIN_CHARS or description.endswith(("…", "...")):
        return None
    if any(description in line for line in paragraphs):
        return None
    first_word = description.split()[0]
    for node in tree.iter("p", "div", "h2", "span", "strong"):
        text = node.text
        if (
            text
            and text.lstrip().startswith(first_word)
            and _norm(node.text_content()) == (description)
        ):
            return description
    return None


def _drop_learned(paragraphs: list[str], learned: frozenset[str]) -> list[str]:
    if not learned:
        return paragraphs
    return [line for line in paragraphs if boilerplate.line_hash(line) not in learned]


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


def _score(
    links: frozenset[str],
    paragraphs: list[str],
    title: str | None,
    lede: str | None,
    lede_expected: bool,
    warnings: list[str],
) -> float:
    return quality.quality_score(
        quality.Signals(
            paragraphs=paragraphs,
            link_density=_link_density(links, paragraphs),
            has_title=bool(title),
            has_lede=bool(lede) if lede_expected else None,
            warnings=len(warnings),
        )
    )


def _generic_body(
    tree: HtmlElement, url: str, title: str | None, links: frozenset[str]
) -> list[str]:
    """trafilatura on the whole page: the fast pass, and its full cascade only when the fast
    result looks weak (on the benchmark, a whole-page dump of a portal's menus)."""
    paragraphs = _paragraphs(tree, url, fast=True)
    score = _score(links, paragraphs, title, None, False, [])
    if score < WEAK_QUALITY:
        fuller = _paragraphs(tree, url, fast=False)
        if _score(links, fuller, title, None, False, []) > score:
            paragraphs = fuller
    container = _container(tree, paragraphs)
    if container is not None:
        paragraphs = _merge_twins(tree, url, container, paragraphs)
    return paragraphs


def _nfc(text: str) -> str:
    # bare_extraction skips the NFC step that trafilatura.extract applies; decomposed forms
    # (Arabic hamza combinations among them) would reach the index and miss exact matches.
    return unicodedata.normalize("NFC", text)


def _meta(tree: HtmlElement) -> Document:
    """Page metadata from <meta> tags and JSON-LD, and the title from the markup when those
    lack one: trafilatura's own readers, without extract_metadata's costly heuristics
    (bylines searched in a pruned copy of the page, category links, licence, date), which
    cost more than its readability pass and feed nothing this project keeps but authors."""
    document = examine_meta(tree)
    if document.author and " " not in document.author:
        # a one-word <meta name=author> is usually the site's handle, not a person
        document.author = None
    # as in extract_metadata: trafilatura's JSON-LD reader has known crashes on odd input
    with contextlib.suppress(Exception):
        document = extract_meta_json(tree, document)
    if not document.title:
        document.title = extract_title(tree)
    return document


def extract_article(
    html: str,
    url: str,
    profile: SiteProfile | None = None,
    learned_boilerplate: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> ExtractedArticle:
    """Extract one article page. Never raises on odd HTML: problems come back as warnings.

    ``learned_boilerplate`` holds line hashes (``boilerplate.line_hash``) that repeat across
    the source's pages; such lines are dropped from bodies of pages without a profile.
    ``now`` (the fetch time) lets a page that only says "منذ ساعتين" have a date.
    """
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
            quality=0.0,
            line_hashes=[],
        )

    # The page is parsed once: everything read from it happens before the profile prunes it
    # (tags, for one, live in a node the profile drops), and bare_extraction works on a copy.
    metadata = _meta(tree)
    title = _norm(metadata.title or "") or None
    authors = _unique([_norm(name) for name in (metadata.author or "").split(";")])
    categories = [
        *_meta_contents(tree, "article:section"),
        *(_norm(category) for category in metadata.categories or []),
        *_meta_contents(tree, "article:tag"),
    ]
    published_at = _published_at(tree, url, now)
    modified_at = _modified_at(tree)
    canonical_url = _canonical_url(tree, url)
    description = _norm(metadata.description or "") or None
    lede: str | None = None
    warnings: list[str] = []
    line_hashes: list[str] = []
    scoped = None
    if profile is not None:
        title = _first_text(tree, profile.title_xpath) or title
        lede = _first_text(tree, profile.lede_xpath)
        authors = _texts(tree, profile.authors_xpath) or authors
        categories += _texts(tree, profile.categories_xpath)
        _drop_nodes(tree, (*profile.drop_xpaths, profile.lede_xpath))
        scoped = _scope(tree, profile.body_xpath)
        if scoped is None:
            warnings.append("profile-body-not-found")
    if scoped is not None:
        assert profile is not None
        # The profile found the body: readability's second opinion on it is wasted work.
        paragraphs = _paragraphs(scoped, url, fast=True)
        paragraphs = [line for line in paragraphs if line not in profile.drop_lines]
        links = _link_texts(scoped)
    else:
        links = _link_texts(tree)
        paragraphs = _generic_body(tree, url, title, links)
        if profile is None:
            line_hashes = boilerplate.page_hashes(paragraphs)
            paragraphs = _drop_learned(paragraphs, learned_boilerplate)
            lede = _description_lede(tree, description, paragraphs)
    # The headline and the lede are fields of their own, not body: trafilatura keeps the
    # <h1> as a body line on many layouts (39 of the 181 benchmark pages), and Sputnik's CMS
    # can repeat the announce as the first paragraph.
    paragraphs = [line for line in paragraphs if line not in (title, lede)]
    body = "\n\n".join(paragraphs)
    warnings += _warnings(title, lede, body, profile)
    score = _score(links, paragraphs, title, lede, profile is not None, warnings)

    return ExtractedArticle(
        title=_nfc(title) if title else None,
        lede=_nfc(lede) if lede else None,
        body=_nfc(body),
        authors=[_nfc(name) for name in authors],
        published_at=published_at,
        modified_at=modified_at,
        canonical_url=canonical_url,
        categories=[_nfc(category) for category in _unique(categories)],
        site_name=_norm(metadata.sitename or "") or None,
        profile=profile.id if profile else None,
        warnings=warnings,
        quality=score,
        line_hashes=line_hashes,
    )
