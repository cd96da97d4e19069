"""Sitemaps (pure): url sets, sitemap indexes, gzip, the news extension, date templates.

A sitemap may hold 50,000 URLs in 50 MB (the protocol's limit), so it is parsed as a stream
(lxml's pull parser, entities never resolved, no network) and decompressed in bounded
steps: a gzip file that inflates past the cap is refused before the excess is ever
allocated. What the protocol forbids is refused with a reason, not crashed on: a document
that is not a sitemap, a malformed one, an index that lists itself, and URLs on a host other
than the sitemap's own (a sitemap only speaks for its host).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from string import Formatter

from lxml import etree

from news_ingest.crawl.urls import canonicalize_url, host_of

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
GZIP_MAGIC = b"\x1f\x8b"
# Decompressed in steps of this size, so a bomb never holds more than one step past the cap.
INFLATE_STEP = 1 << 20
DATE_FIELDS = frozenset({"date_start", "date_end"})
DATE_FORMAT = "%Y%m%d"


class SitemapRejected(Exception):
    """A sitemap refused as a whole; ``reason`` is the short code of counts and rejects."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SitemapUrl:
    url: str
    canonical_url: str
    sitemap_url: str
    lastmod: datetime | None = None
    published_at: datetime | None = None  # news:publication_date
    title: str = ""  # news:title

    @property
    def date(self) -> datetime | None:
        """When the article appeared, as far as the sitemap says."""
        return self.published_at or self.lastmod


@dataclass(frozen=True)
class ChildSitemap:
    url: str
    lastmod: datetime | None


@dataclass(frozen=True)
class ParsedSitemap:
    urls: list[SitemapUrl] = field(default_factory=list)
    children: list[ChildSitemap] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return bool(self.children)


def parse_sitemap(body: bytes, sitemap_url: str, *, max_bytes: int) -> ParsedSitemap:
    """Parse a (possibly gzipped) url set or sitemap index of at most ``max_bytes``.

    Raises ``SitemapRejected`` for the whole document; single bad entries are counted in
    ``skipped`` (``bad-url``, ``foreign-host``, ``entry-without-loc``).
    """
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    host = _site(host_of(sitemap_url))
    urls: list[SitemapUrl] = []
    children: list[ChildSitemap] = []
    skipped: dict[str, int] = {}
    root_tag: str | None = None
    try:
        for chunk in _inflated(body, max_bytes):
            parser.feed(chunk)
            root_tag = _consume(parser, root_tag, host, sitemap_url, urls, children, skipped)
        parser.close()
        root_tag = _consume(parser, root_tag, host, sitemap_url, urls, children, skipped)
    except etree.XMLSyntaxError as exc:
        raise SitemapRejected("malformed", f"{exc} in {sitemap_url}") from None
    if root_tag is None:
        raise SitemapRejected("malformed", f"no XML document in {sitemap_url}")
    return ParsedSitemap(urls=urls, children=children, skipped=skipped)


def _consume(
    parser: etree.XMLPullParser,
    root_tag: str | None,
    host: str,
    sitemap_url: str,
    urls: list[SitemapUrl],
    children: list[ChildSitemap],
    skipped: dict[str, int],
) -> str | None:
    for event, element in parser.read_events():
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if root_tag is None:
                root_tag = tag
                if tag not in (f"{{{SITEMAP_NS}}}urlset", f"{{{SITEMAP_NS}}}sitemapindex"):
                    raise SitemapRejected(
                        "not-a-sitemap", f"root element {tag or '?'} in {sitemap_url}"
                    )
            continue
        entry: SitemapUrl | ChildSitemap | str
        if tag == f"{{{SITEMAP_NS}}}url":
            entry = _url_entry(element, host, sitemap_url)
        elif tag == f"{{{SITEMAP_NS}}}sitemap":
            entry = _child_entry(element, host, sitemap_url)
        else:
            continue
        if isinstance(entry, str):
            skipped[entry] = skipped.get(entry, 0) + 1
        elif isinstance(entry, SitemapUrl):
            urls.append(entry)
        else:
            children.append(entry)
        # The entry is read: free it and its earlier siblings, so memory stays flat.
        element.clear(keep_tail=False)
        parent = element.getparent()
        while parent is not None and element.getprevious() is not None:
            del parent[0]
    return root_tag


def _location(element: etree._Element, host: str) -> tuple[str, str] | str:
    """``(loc, canonical)`` of an entry on the sitemap's own site, else why it is skipped."""
    loc = _text(element, f"{{{SITEMAP_NS}}}loc")
    if not loc:
        return "entry-without-loc"
    try:
        canonical = canonicalize_url(loc)
    except ValueError:
        return "bad-url"
    return (loc, canonical) if _site(host_of(canonical)) == host else "foreign-host"


def _url_entry(element: etree._Element, host: str, sitemap_url: str) -> SitemapUrl | str:
    located = _location(element, host)
    if isinstance(located, str):
        return located
    loc, canonical = located
    return SitemapUrl(
        url=loc,
        canonical_url=canonical,
        sitemap_url=sitemap_url,
        lastmod=parse_w3c_datetime(_text(element, f"{{{SITEMAP_NS}}}lastmod")),
        published_at=parse_w3c_datetime(
            _text(element, f"{{{NEWS_NS}}}news/{{{NEWS_NS}}}publication_date")
        ),
        title=_text(element, f"{{{NEWS_NS}}}news/{{{NEWS_NS}}}title"),
    )


def _child_entry(element: etree._Element, host: str, sitemap_url: str) -> ChildSitemap | str:
    located = _location(element, host)
    if isinstance(located, str):
        return located
    loc, canonical = located
    if canonical == canonicalize_url(sitemap_url):
        raise SitemapRejected("self-reference", f"the index {sitemap_url} lists itself")
    lastmod = parse_w3c_datetime(_text(element, f"{{{SITEMAP_NS}}}lastmod"))
    return ChildSitemap(url=loc, lastmod=lastmod)


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _site(host: str) -> str:
    return host.removeprefix("www.")


def _inflated(body: bytes, max_bytes: int) -> Iterator[bytes]:
    """The document's bytes (gunzipped when gzip), refusing more than ``max_bytes``."""
    if not body.startswith(GZIP_MAGIC):
        if len(body) > max_bytes:
            raise SitemapRejected("too-large", f"{len(body)} bytes > {max_bytes}")
        yield body
        return
    inflater = zlib.decompressobj(wbits=31)
    total = 0
    pending = body
    while pending and not inflater.eof:
        try:
            chunk = inflater.decompress(pending, INFLATE_STEP)
        except zlib.error as exc:
            raise SitemapRejected("malformed", f"bad gzip data ({exc})") from None
        pending = inflater.unconsumed_tail
        total += len(chunk)
        if total > max_bytes:
            raise SitemapRejected(
                "gzip-bomb",
                f"{len(body)} gzip bytes inflate past {max_bytes} bytes (ratio over "
                f"{total // max(len(body), 1)}:1)",
            )
        yield chunk
    if not inflater.eof:
        raise SitemapRejected("malformed", "truncated gzip data")


def parse_w3c_datetime(value: str) -> datetime | None:
    """A W3C datetime as sitemaps write it (``2026-01-05``, ``2026-01-05T10:00+04:00``,
    ``...Z``); the offset is kept, a bare date is midnight UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --- date-templated sitemaps ------------------------------------------------------------


def template_fields(template: str) -> set[str]:
    """The ``{placeholders}`` of a sitemap URL template."""
    return {name for _, name, _, _ in Formatter().parse(template) if name is not None}


def is_dated(template: str) -> bool:
    return bool(template_fields(template) & DATE_FIELDS)


def dated_urls(template: str, start: datetime, end: datetime) -> list[str]:
    """One URL per calendar day (UTC) touched by ``[start, end)``; ``date_end`` is inclusive,
    as Sputnik's ``/sitemap_article.xml?date_start=…&date_end=…`` takes it. A day per
    request keeps each answer far below the protocol's 50,000 URLs."""
    return [
        template.format(date_start=day.strftime(DATE_FORMAT), date_end=day.strftime(DATE_FORMAT))
        for day in days_touched(start, end)
    ]


def days_touched(start: datetime, end: datetime) -> list[date]:
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def in_window(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end
