"""A news site on 127.0.0.1 for tests, benchmarks and demos: pages, RSS feeds and faults.

Nothing in the test suite or the benchmarks touches the internet; they point the pipeline
at this server instead. Each route can misbehave on purpose (status sequences such as
503 then 200, 429 with Retry-After, latency, connection resets, redirects), and every
request is logged so tests can count what the pipeline really asked for.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape

from news_ingest.settings import PROJECT_ROOT


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Statuses served before ``status``, one per request: [503, 503] -> two failures first.
    failures: list[int] = field(default_factory=list)
    delay: float = 0.0
    reset: bool = False
    etag: bool = False
    # False: no Content-Length, the body ends when the connection closes (a streamed page).
    declare_length: bool = True
    # Seconds between single bytes of the body: a slow-drip server that never goes silent
    # long enough for a read timeout.
    drip: float = 0.0


@dataclass(frozen=True)
class FeedItem:
    link: str
    title: str
    published: datetime | None = None
    description: str = ""
    categories: tuple[str, ...] = ()


def archive_items(count: int) -> list[FeedItem]:
    """An archive feed's items: ``count`` short Arabic entries a minute apart (100k of them
    make a ~33 MB RSS document, the size of a large site's full archive feed)."""
    return [
        FeedItem(
            link=f"https://sarabic.ae/2024{n // 3000:04d}/article-{n}.html",
            title=f"خبر رقم {n} عن المفاوضات",
            published=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
            description="ملخص الخبر",
            categories=("العالم",),
        )
        for n in range(count)
    ]


def rss_feed(items: Iterable[FeedItem], *, title: str, link: str) -> bytes:
    """An RSS 2.0 document, shaped like Sputnik's export feeds."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link>",
        "<description>fixture feed</description><language>ar</language>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title><link>{escape(item.link)}</link>")
        parts.append(f"<guid>{escape(item.link)}</guid>")
        if item.published is not None:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        if item.description:
            parts.append(f"<description>{escape(item.description)}</description>")
        parts.extend(f"<category>{escape(c)}</category>" for c in item.categories)
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None  # news:publication_date
    title: str = ""  # news:title


def urlset_xml(entries: Iterable[SitemapEntry]) -> bytes:
    """A sitemap url set with the news extension, as Sputnik's archive sitemaps are."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">',
    ]
    for entry in entries:
        parts.append(f"<url><loc>{escape(entry.loc)}</loc>")
        if entry.lastmod is not None:
            parts.append(f"<lastmod>{entry.lastmod.isoformat()}</lastmod>")
        if entry.published is not None:
            parts.append(
                "<news:news><news:publication><news:name>Sputnik</news:name>"
                "<news:language>ar</news:language></news:publication>"
                f"<news:publication_date>{entry.published.isoformat()}</news:publication_date>"
                f"<news:title>{escape(entry.title)}</news:title></news:news>"
            )
        parts.append("</url>")
    parts.append("</urlset>")
    return "\n".join(parts).encode("utf-8")


def sitemap_index_xml(children: Iterable[tuple[str, datetime | None]]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for loc, lastmod in children:
        stamp = f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod is not None else ""
        parts.append(f"<sitemap><loc>{escape(loc)}</loc>{stamp}</sitemap>")
    parts.append("</sitemapindex>")
    return "\n".join(parts).encode("utf-8")


# Answers a request to a path from its query parameters (a date-range sitemap, say).
Handler = Callable[[dict[str, str]], Route]


class FixtureSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.handlers: dict[str, Handler] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        # Body bytes written per path: shows whether a client stopped reading early.
        self.bytes_sent: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the site is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body: bytes | str = b"", **options: object) -> Route:
        data = body.encode("utf-8") if isinstance(body, str) else body
        route = Route(body=data, **options)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def add_feed(self, path: str, items: Iterable[FeedItem], *, title: str = "fixture") -> Route:
        body = rss_feed(items, title=title, link=self.base_url + "/")
        return self.add(path, body, content_type="application/rss+xml; charset=utf-8", etag=True)

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for requested, _ in self.requests if requested == path)

    def start(self, port: int = 0) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                # An absolute-form target is a forward-proxy request: the site serves it
                # whatever the host, so tests can pose as a public host through it.
                target = self.path
                if "://" in target:
                    parts = urlsplit(target)
                    target = parts.path + (f"?{parts.query}" if parts.query else "")
                path, _, query = target.partition("?")
                with site._lock:
                    site.requests.append((target, dict(self.headers.items())))
                route = site.routes.get(path) or site.routes.get(target)
                if route is None and path in site.handlers:
                    route = site.handlers[path](dict(parse_qsl(query)))
                site._serve(self, path, route)

            def log_message(self, format: str, *args: object) -> None:
                return  # keep test output clean; requests are recorded in site.requests

        self._server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _serve(self, handler: BaseHTTPRequestHandler, path: str, route: Route | None) -> None:
        if route is None:
            self._respond(handler, path, 404, b"not found", "text/plain", {}, length=True)
            return
        if route.delay:
            time.sleep(route.delay)
        if route.reset:
            # SO_LINGER 0 makes close() send RST: the client sees a connection reset.
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            handler.connection.close()
            handler.close_connection = True
            return
        with self._lock:
            status = route.failures.pop(0) if route.failures else route.status
        headers = dict(route.headers)
        if route.etag and status == 200:
            tag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
            headers["ETag"] = tag
            if handler.headers.get("If-None-Match") == tag:
                self._respond(handler, path, 304, b"", route.content_type, headers, length=True)
                return
        body = route.body if status == 200 else f"status {status}".encode()
        self._respond(
            handler,
            path,
            status,
            body,
            route.content_type,
            headers,
            length=route.declare_length,
            drip=route.drip,
        )

    def _respond(
        self,
        handler: BaseHTTPRequestHandler,
        path: str,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
        *,
        length: bool,
        drip: float = 0.0,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if status == 304:
            return
        sent = 0
        chunk = 1 if drip else _WRITE_CHUNK
        try:
            for start in range(0, len(body), chunk):
                if drip:
                    time.sleep(drip)
                handler.wfile.write(body[start : start + chunk])
                handler.wfile.flush()
                sent += len(body[start : start + chunk])
        except OSError:
            # The client gave up (size cap, timeout): that is what the test wants to see.
            handler.close_connection = True
        with self._lock:
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + sent


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops connections when a crawler opens 16 at once, and a
    # dropped SYN costs a 1 s retransmit: latency the benchmark would wrongly blame on us.
    request_queue_size = 128


_WRITE_CHUNK = 64 * 1024


@contextmanager
def running_site() -> Iterator[FixtureSite]:
    site = FixtureSite()
    site.start()
    try:
        yield site
    finally:
        site.stop()


# --- generated sites: many distinct articles, feeds over them, faults on chosen pages ------

SPUTNIK_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "sites" / "sputnik"
INDEXED = "indexed"

# What the pipeline should make of a page with each fault, given a fetch timeout below
# ``SiteSpec.hang_seconds`` and at least two tries: "indexed", or the reject reason.
FAULT_OUTCOMES: dict[str, str] = {
    "slow": INDEXED,  # answers after SiteSpec.slow_seconds
    "flaky-5xx": INDEXED,  # 503 once, then the page
    "rate-limited": INDEXED,  # 429 with Retry-After once, then the page
    "charset-latin1-header": INDEXED,  # header says ISO-8859-1, <meta> says windows-1256
    "charset-wrong": INDEXED,  # windows-1256 bytes, header says UTF-8, no <meta>
    "charset-missing": INDEXED,  # ISO-8859-6 bytes, no declaration anywhere
    "http-500": "http-500",  # 500 on every try
    "timeout": "timeout",  # answers only after SiteSpec.hang_seconds
    "reset": "connection-error",  # TCP reset on every try
    "gone": "http-410",
    "binary": "not-html",
    "redirect-loop": "redirect-loop",
    "oversize": "too-large",  # a real article padded beyond SiteSpec.oversize_bytes
}


@dataclass(frozen=True)
class SiteSpec:
    """What to generate; the same spec always gives the same site (``seed``)."""

    pages: int = 100
    feeds: int = 4
    seed: int = 0
    # Fault name (a FAULT_OUTCOMES key) -> how many pages get it; the rest are healthy.
    faults: Mapping[str, int] = field(default_factory=dict)
    min_bytes: int = 50_000
    max_bytes: int = 150_000
    latency: float = 0.0  # added to every page response
    slow_seconds: float = 0.5
    hang_seconds: float = 5.0
    retry_after_seconds: int = 1
    oversize_bytes: int = 6_000_000
    # Share of articles on the Karabakh story (what the shipped watchlist alerts on); the
    # fixtures have three such stories out of six, far more than a real news day.
    karabakh_share: float = 0.1
    # Minutes between two articles' publication (7: a busy news day; hours spread a few
    # dozen articles over weeks, for backfills).
    spacing_minutes: float = 7.0
    # How many of its latest items each feed lists (None: all), as real feeds cut theirs.
    feed_items: int | None = None


@dataclass(frozen=True)
class GeneratedArticle:
    number: int
    path: str
    title: str
    lede: str
    paragraphs: tuple[str, ...]
    section: str
    published: datetime
    feed: int
    fault: str | None
    template: str
    modified: datetime | None = None  # set by an edit (``edited``)
    revision: int = 0

    @property
    def expected(self) -> str:
        """``"indexed"`` or the reason the pipeline should record for skipping the page."""
        return FAULT_OUTCOMES[self.fault] if self.fault else INDEXED


@dataclass(frozen=True)
class GeneratedSite:
    spec: SiteSpec
    base_url: str
    articles: list[GeneratedArticle]
    feed_paths: list[str]

    @property
    def feed_urls(self) -> list[str]:
        return [self.base_url + path for path in self.feed_paths]

    def url(self, article: GeneratedArticle) -> str:
        return self.base_url + article.path

    def expected_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for article in self.articles:
            counts[article.expected] = counts.get(article.expected, 0) + 1
        return counts


@dataclass(frozen=True)
class _Template:
    """A fixture page cut at the parts that vary, as alternating text and slot names, with
    the sentences and title words of its article."""

    name: str
    section: str
    parts: tuple[str, ...]
    sentences: tuple[str, ...]
    title_words: tuple[str, ...]
    karabakh: bool


@dataclass(frozen=True)
class _Corpus:
    templates: tuple[_Template, ...]
    sentences: tuple[str, ...]  # of every template: comments and teasers draw from these
    title_words: tuple[str, ...]


_SLOT = "\x00"
_SENTENCE_END = re.compile(r"(?<=[.!؟])\s+")
_NAMES = ("أحمد", "سارة", "محمد", "ليلى", "عمر", "نور", "يوسف", "مريم", "خالد", "هدى")


def _slot(name: str) -> str:
    return f"{_SLOT}{name}{_SLOT}"


def _template(html_text: str, article: Mapping[str, Any], name: str) -> _Template:
    """Replace the title, lede, canonical URL, id, body, comments and teasers by slots."""
    text = html_text
    body_start = text.index('<div class="article__body')
    body_start = text.index(">", body_start) + 1
    footer = text.index('<div class="article__footer">')
    text = text[:body_start] + _slot("body") + "\n          </div>\n          " + text[footer:]
    href = str(article["canonical_href"])
    for form in (href, quote(href, safe="")):
        text = text.replace(form, _slot("canonical" if form == href else "canonical_quoted"))
    for key in ("title", "lede"):
        value = str(article[key])
        forms = (html.escape(value), json.dumps(value, ensure_ascii=False)[1:-1], value)
        for form in forms:
            text = text.replace(form, _slot(key))
    match = re.search(r"-(\d+)\.html$", str(article["url"]))
    if match is None:
        raise ValueError(f"no article id in {article['url']}")
    text = text.replace(match.group(1), _slot("id"))
    # The page's own timestamps follow the generated article's dates, so a page found
    # through a sitemap alone carries the right publication time.
    for prop, slot in (("published_time", "published_basic"), ("modified_time", "modified_basic")):
        text = re.sub(rf'(article:{prop}" content=")[^"]*', r"\1" + _slot(slot), text)
    for key, slot in (("datePublished", "published_iso"), ("dateModified", "modified_iso")):
        text = re.sub(rf'("{key}": ")[^"]*', r"\1" + _slot(slot), text)
    text = re.sub(r'(<div class="comments__list"[^>]*>)', r"\1" + _slot("comments"), text)
    text = re.sub(
        r'(data-block="popular">\s*<div class="sidebar__title">[^<]*</div>\s*'
        r'<div class="cell-list"[^>]*>)',
        r"\1" + _slot("teasers"),
        text,
    )
    paragraphs = [article["lede"], *article["body_paragraphs"]]
    return _Template(
        name=name,
        section=str(article["section"]),
        parts=tuple(text.split(_SLOT)),
        sentences=tuple(
            sentence
            for paragraph in paragraphs
            for sentence in _SENTENCE_END.split(paragraph)
            if len(sentence) > 30
        ),
        title_words=tuple(str(article["title"]).split()),
        karabakh=any(tag.startswith("ناغورن") for tag in article["tags"]),
    )


@cache
def _corpus(fixtures: Path) -> _Corpus:
    manifest = json.loads((fixtures / "articles.json").read_text("utf-8"))["articles"]
    originals = [
        a
        for a in manifest
        if not a["copy_of"] and a["language"] == "ar" and a["encoding"] == "utf-8"
    ]
    templates = tuple(
        _template((fixtures / a["file"]).read_text("utf-8"), a, a["file"]) for a in originals
    )
    sentences = tuple(sentence for t in templates for sentence in t.sentences)
    title_words = tuple(sorted({word for t in templates for word in t.title_words}))
    return _Corpus(templates=templates, sentences=sentences, title_words=title_words)


def generate_articles(spec: SiteSpec, fixtures: Path = SPUTNIK_FIXTURES) -> list[GeneratedArticle]:
    """The articles of a site (metadata and text, no HTML): deterministic for a spec."""
    corpus = _corpus(fixtures)
    rng = random.Random(spec.seed)
    faults = [name for name, n in spec.faults.items() for _ in range(n)]
    unknown = set(faults) - FAULT_OUTCOMES.keys()
    if unknown or len(faults) > spec.pages:
        raise ValueError(f"bad faults {dict(spec.faults)} for {spec.pages} pages")
    faulty = dict(zip(rng.sample(range(spec.pages), len(faults)), faults, strict=True))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    titles: set[str] = set()
    texts: set[tuple[str, ...]] = set()
    articles = []
    for number in range(spec.pages):
        # Text comes from the stories on the same side of the watchlist, so the share of
        # articles that alert is the one asked for.
        karabakh = rng.random() < spec.karabakh_share
        group = [t for t in corpus.templates if t.karabakh == karabakh]
        template = rng.choice(group)
        title = _title(rng, template, titles)
        lede, *sentences = _sentences(rng, [s for t in group for s in t.sentences], texts)
        published = start + timedelta(minutes=spec.spacing_minutes * number)
        article_id = 1_100_000_000 + number
        slug = quote("-".join(title.split()))
        articles.append(
            GeneratedArticle(
                number=number,
                path=f"/{published:%Y%m%d}/{slug}-{article_id}.html",
                title=title,
                lede=lede,
                paragraphs=_paragraphs(rng, sentences),
                section=template.section,
                published=published,
                feed=number % spec.feeds,
                fault=faulty.get(number),
                template=template.name,
            )
        )
    return articles


def _sentences(rng: random.Random, pool: list[str], seen: set[tuple[str, ...]]) -> list[str]:
    """A lede and 5-9 body sentences, a combination no earlier article had."""
    while True:
        picked = tuple(rng.sample(pool, min(len(pool), rng.randint(6, 10))))
        if picked not in seen:
            seen.add(picked)
            return list(picked)


def _paragraphs(rng: random.Random, sentences: list[str]) -> tuple[str, ...]:
    """The sentences in the given order, one or two to a paragraph."""
    paragraphs = []
    while sentences:
        take = rng.randint(1, 2)
        paragraphs.append(" ".join(sentences[:take]))
        sentences = sentences[take:]
    return tuple(paragraphs)


def _title(rng: random.Random, template: _Template, seen: set[str]) -> str:
    words = template.title_words
    while True:
        title = " ".join(rng.sample(words, rng.randint(min(6, len(words)), len(words))))
        if title not in seen:
            seen.add(title)
            return title


def render_article(
    article: GeneratedArticle, spec: SiteSpec, fixtures: Path = SPUTNIK_FIXTURES
) -> str:
    """The article's page: its template with the article's text, padded with comments and
    teasers to a size drawn between ``min_bytes`` and ``max_bytes`` (``oversize_bytes`` for
    the oversize fault)."""
    corpus = _corpus(fixtures)
    template = next(t for t in corpus.templates if t.name == article.template)
    rng = random.Random(f"{spec.seed}/{article.number}")
    article_id = str(1_100_000_000 + article.number)
    canonical = f"https://sarabic.ae{article.path}"
    values = {
        **_page_times(article.published, article.modified or article.published),
        "title": html.escape(article.title),
        "lede": html.escape(article.lede),
        "id": article_id,
        "canonical": canonical,
        "canonical_quoted": quote(canonical, safe=""),
        "body": _body(rng, corpus, article),
        "comments": "",
        "teasers": "",
    }
    target = (
        spec.oversize_bytes
        if article.fault == "oversize"
        else rng.randint(spec.min_bytes, spec.max_bytes)
    )
    size = len(_join(template, values).encode("utf-8"))
    comments: list[str] = []
    teasers: list[str] = []
    while size < target:
        comment = _comment(rng, corpus, len(comments))
        teaser = _teaser(rng, corpus, len(teasers))
        comments.append(comment)
        teasers.append(teaser)
        size += len(comment.encode("utf-8")) + len(teaser.encode("utf-8"))
    values.update(comments="".join(comments), teasers="".join(teasers))
    return _join(template, values)


def _join(template: _Template, values: Mapping[str, str]) -> str:
    # Odd positions are slot names (the text was split on the slot marker).
    return "".join(values[part] if i % 2 else part for i, part in enumerate(template.parts))


def _body(rng: random.Random, corpus: _Corpus, article: GeneratedArticle) -> str:
    blocks = []
    for index, paragraph in enumerate(article.paragraphs):
        blocks.append(
            '\n            <div class="article__block" data-type="text">\n'
            f'              <div class="article__text">{html.escape(paragraph)}</div>\n'
            "            </div>"
        )
        if index % 3 == 1:  # Sputnik's inline "read also" teasers, which extraction drops
            blocks.append(_related(rng, corpus))
    return "".join(blocks)


def _related(rng: random.Random, corpus: _Corpus) -> str:
    title = html.escape(" ".join(rng.sample(corpus.title_words, 7)))
    href = f"/20251231/{rng.randrange(10**9, 2 * 10**9)}.html"
    return f"""
            <div class="article__block" data-type="article" data-article="main-photo">
              <div class="article__article m-image">
                <a href="{href}" class="article__article-image"><img media-type="ar16x9" alt="{title}" src="https://cdn.img.sarabic.ae/img/{rng.randrange(10**9)}.jpg" decoding="async" width="600" height="338"></a>
                <div class="article__article-desc">
                  <a href="{href}" class="article__article-link"><span class="article__article-title">{title}</span></a>
                </div>
              </div>
            </div>"""  # noqa: E501


def _comment(rng: random.Random, corpus: _Corpus, number: int) -> str:
    text = html.escape(" ".join(rng.sample(corpus.sentences, rng.randint(1, 2))))
    return f"""
                <div class="comment" data-comment-id="{number}">
                  <div class="comment__header"><span class="comment__author">{rng.choice(_NAMES)}</span> <span class="comment__date" data-unixtime="{1_767_225_600 + 60 * number}">{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}</span></div>
                  <div class="comment__text">{text}</div>
                  <div class="comment__controls"><a class="comment__reply" href="#comments">رد</a> <span class="comment__likes">{rng.randint(0, 99)}</span></div>
                </div>"""  # noqa: E501


def _teaser(rng: random.Random, corpus: _Corpus, number: int) -> str:
    title = html.escape(" ".join(rng.sample(corpus.title_words, 8)))
    return f"""
            <div class="cell-list__item m-no-image">
              <div class="cell-list__item-info"><span class="cell-info__time">{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}</span></div>
              <a href="/latest/{number}/" class="cell-list__item-link"><span class="cell-list__item-title">{title}</span></a>
            </div>"""  # noqa: E501


def _page_times(published: datetime, modified: datetime) -> dict[str, str]:
    """The page's own timestamps, as Sputnik's pages write them."""
    return {
        "published_basic": f"{published.astimezone(UTC):%Y%m%dT%H%M}+0000",
        "modified_basic": f"{modified.astimezone(UTC):%Y%m%dT%H%M}+0000",
        "published_iso": published.isoformat(),
        "modified_iso": modified.isoformat(),
    }


def text_page(
    title: str,
    lede: str,
    paragraphs: Iterable[str],
    *,
    language: str,
    article_id: int,
    published: datetime | None = None,
    fixtures: Path = SPUTNIK_FIXTURES,
) -> str:
    """A Sputnik-layout page (the English fixture's) carrying the given text, escaped as a
    site would: a text that reads ``<script>`` stays text. Its timestamps are
    ``published`` (the model fixture's own time if None)."""
    manifest = json.loads((fixtures / "articles.json").read_text("utf-8"))["articles"]
    model = next(a for a in manifest if a["language"] == "en" and not a["copy_of"])
    template = _template((fixtures / model["file"]).read_text("utf-8"), model, model["file"])
    canonical = f"https://sputnikglobe.com/demo/{article_id}.html"
    blocks = "".join(
        '\n            <div class="article__block" data-type="text">\n'
        f'              <div class="article__text">{html.escape(paragraph)}</div>\n'
        "            </div>"
        for paragraph in paragraphs
    )
    when = published or datetime.fromisoformat(model["published_at"])
    values = {
        **_page_times(when, when),
        "title": html.escape(title),
        "lede": html.escape(lede),
        "id": str(article_id),
        "canonical": canonical,
        "canonical_quoted": quote(canonical, safe=""),
        "body": blocks,
        "comments": "",
        "teasers": "",
    }
    return _join(template, values).replace('<html lang="en"', f'<html lang="{language}"', 1)


def redesigned(page: str) -> str:
    """The same page after a site redesign renamed its lede and body containers: the text
    is all there, but the site profile no longer finds it (what feed health must catch)."""
    return page.replace('class="article__body', 'class="story-content').replace(
        'class="article__announce-text', 'class="story-lead'
    )


def encode_page(article: GeneratedArticle, page: str) -> tuple[bytes, str]:
    """The page's bytes and Content-Type, with the charset (mis)declarations of its fault.
    Characters a legacy charset lacks become character references, as such sites do."""
    utf8_meta = '<meta charset="utf-8">'
    if article.fault == "charset-latin1-header":
        page = page.replace(utf8_meta, '<meta charset="windows-1256">')
        return page.encode("cp1256", "xmlcharrefreplace"), "text/html; charset=ISO-8859-1"
    if article.fault == "charset-wrong":
        page = page.replace(utf8_meta, "")
        return page.encode("cp1256", "xmlcharrefreplace"), "text/html; charset=utf-8"
    if article.fault == "charset-missing":
        page = page.replace(utf8_meta, "")
        return page.encode("iso8859_6", "xmlcharrefreplace"), "text/html"
    return page.encode("utf-8"), "text/html; charset=utf-8"


def generate_site(
    site: FixtureSite, spec: SiteSpec, fixtures: Path = SPUTNIK_FIXTURES
) -> GeneratedSite:
    """Serve ``spec``'s articles and feeds on ``site`` (started); return what was served."""
    return serve_articles(site, spec, generate_articles(spec, fixtures), fixtures)


def serve_articles(
    site: FixtureSite,
    spec: SiteSpec,
    articles: list[GeneratedArticle],
    fixtures: Path = SPUTNIK_FIXTURES,
) -> GeneratedSite:
    """Serve these articles, and ``spec.feeds`` feeds listing them, on ``site`` (started)."""
    for article in articles:
        _add_article(site, spec, article, fixtures)
    feed_paths = [f"/export/rss2/feed-{n}/index.xml" for n in range(spec.feeds)]
    generated = GeneratedSite(
        spec=spec, base_url=site.base_url, articles=articles, feed_paths=feed_paths
    )
    serve_feeds(site, generated)
    serve_sitemaps(site, generated)
    return generated


def serve_feeds(site: FixtureSite, generated: GeneratedSite) -> None:
    """Each feed lists its articles in publication order, only the newest ``feed_items``
    when that is set."""
    for number, path in enumerate(generated.feed_paths):
        listed = [a for a in generated.articles if a.feed == number]
        if generated.spec.feed_items is not None:
            listed = listed[-generated.spec.feed_items :]
        items = [
            FeedItem(
                link=site.url(a.path),
                title=a.title,
                published=a.published,
                description=a.lede,
                categories=(a.section,),
            )
            for a in listed
        ]
        site.add_feed(path, items, title=f"Sputnik Arabic feed {number}")


DATED_SITEMAP = "/sitemap_article.xml"
SITEMAP_INDEX = "/sitemap_index.xml"


def dated_sitemap_template(base_url: str) -> str:
    """The URL template of the site's date-range sitemap, as sources.yaml writes it."""
    return base_url + DATED_SITEMAP + "?date_start={date_start}&date_end={date_end}"


def serve_sitemaps(site: FixtureSite, generated: GeneratedSite) -> None:
    """Sputnik's date-range sitemap (``/sitemap_article.xml?date_start=…&date_end=…``,
    news extension), and, named by robots.txt, an index of gzipped monthly url sets with
    ``lastmod`` only."""
    articles = generated.articles

    def lastmod(article: GeneratedArticle) -> datetime:
        return article.modified or article.published

    def dated(query: dict[str, str]) -> Route:
        try:
            first = datetime.strptime(query["date_start"], "%Y%m%d").replace(tzinfo=UTC)
            last = datetime.strptime(query["date_end"], "%Y%m%d").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            return Route(b"date_start and date_end (YYYYMMDD) required", "text/plain", 400)
        entries = [
            SitemapEntry(site.url(a.path), lastmod(a), a.published, a.title)
            for a in articles
            if first <= a.published < last + timedelta(days=1)
        ]
        return Route(urlset_xml(entries), "application/xml; charset=utf-8")

    site.handlers[DATED_SITEMAP] = dated
    months: dict[str, list[GeneratedArticle]] = {}
    for article in articles:
        months.setdefault(f"{article.published:%Y-%m}", []).append(article)
    children = []
    for month, members in sorted(months.items()):
        path = f"/sitemaps/articles-{month}.xml.gz"
        entries = (SitemapEntry(site.url(a.path), lastmod(a)) for a in members)
        body = gzip.compress(urlset_xml(entries))
        site.add(path, body, content_type="application/gzip")
        children.append((site.url(path), max(lastmod(a) for a in members)))
    site.add(SITEMAP_INDEX, sitemap_index_xml(children), content_type="application/xml")
    robots = f"User-agent: *\nAllow: /\nSitemap: {site.url(SITEMAP_INDEX)}\n"
    site.add("/robots.txt", robots, content_type="text/plain")


def edited(article: GeneratedArticle, when: datetime) -> GeneratedArticle:
    """The article as its newsroom corrects it at ``when``: a word of the headline changed,
    a figure in the first paragraph corrected, a paragraph added at the end."""
    number = article.revision + 1
    first, *rest = article.paragraphs
    return replace(
        article,
        title=f"{article.title} (محدث {number})",
        paragraphs=(f"{first} وارتفع العدد إلى {40 + number} شخصا.", *rest, _UPDATE_PARAGRAPH),
        modified=when,
        revision=number,
    )


_UPDATE_PARAGRAPH = "وفي تحديث لاحق، أكدت مصادر رسمية هذه المعلومات وأضافت تفاصيل جديدة عن الحادث."


def publish_edit(
    site: FixtureSite, generated: GeneratedSite, article: GeneratedArticle, when: datetime
) -> GeneratedSite:
    """Serve an edited version of ``article`` (page, feeds, sitemaps); the new site."""
    new = edited(article, when)
    articles = [new if a.number == article.number else a for a in generated.articles]
    updated = replace(generated, articles=articles)
    _add_article(site, generated.spec, new, SPUTNIK_FIXTURES)
    serve_feeds(site, updated)
    serve_sitemaps(site, updated)
    return updated


def _add_article(
    site: FixtureSite, spec: SiteSpec, article: GeneratedArticle, fixtures: Path
) -> None:
    fault = article.fault
    if fault == "redirect-loop":
        site.add(article.path, status=302, headers={"Location": article.path + "?hop=1"})
        site.add(article.path + "?hop=1", status=302, headers={"Location": article.path})
        return
    if fault == "binary":
        noise = random.Random(f"{spec.seed}/{article.number}").randbytes(spec.min_bytes)
        site.add(article.path, noise, content_type="application/octet-stream")
        return
    body, content_type = encode_page(article, render_article(article, spec, fixtures))
    options: dict[str, object] = {"content_type": content_type, "delay": spec.latency}
    if fault == "slow":
        options["delay"] = spec.latency + spec.slow_seconds
    elif fault == "timeout":
        options["delay"] = spec.hang_seconds
    elif fault == "flaky-5xx":
        options["failures"] = [503]
    elif fault == "rate-limited":
        options.update(failures=[429], headers={"Retry-After": str(spec.retry_after_seconds)})
    elif fault == "http-500":
        options["status"] = 500
    elif fault == "gone":
        options["status"] = 410
    elif fault == "reset":
        options["reset"] = True
    site.add(article.path, body, **options)


def main(argv: list[str] | None = None) -> None:
    """Serve a generated site until stdin closes; print one JSON line describing it, and
    one ``{"requests": N}`` line each time a ``requests`` line arrives on stdin."""
    parser = argparse.ArgumentParser(prog="python -m news_ingest.local.fixturesite")
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--feeds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--spacing-minutes", type=float, default=7.0)
    parser.add_argument("--feed-items", type=int, default=None)
    args = parser.parse_args(argv)
    spec = SiteSpec(
        pages=args.pages,
        feeds=args.feeds,
        seed=args.seed,
        latency=args.latency,
        spacing_minutes=args.spacing_minutes,
        feed_items=args.feed_items,
    )
    site = FixtureSite()
    site.start(args.port)
    generated = generate_site(site, spec)
    described = {
        "base_url": site.base_url,
        "feeds": generated.feed_urls,
        "sitemap": dated_sitemap_template(site.base_url),
    }
    print(json.dumps(described), flush=True)
    for line in sys.stdin:  # the parent closes our stdin (or exits) to stop us
        if line.strip() == "requests":
            print(json.dumps({"requests": len(site.requests)}), flush=True)
    site.stop()


if __name__ == "__main__":
    main()
