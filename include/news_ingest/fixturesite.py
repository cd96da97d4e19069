"""A news site on 127.0.0.1 for tests, benchmarks and demos: pages, RSS feeds and faults.

Nothing in the test suite or the benchmarks touches the internet; they point the pipeline
at this server instead. Each route can misbehave on purpose (status sequences such as
503 then 200, 429 with Retry-After, latency, connection resets, redirects), and every
request is logged so tests can count what the pipeline really asked for.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


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


@dataclass(frozen=True)
class FeedItem:
    link: str
    title: str
    published: datetime | None = None
    description: str = ""
    categories: tuple[str, ...] = ()


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


class FixtureSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
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

    def start(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with site._lock:
                    site.requests.append((self.path, dict(self.headers.items())))
                site._serve(self, site.routes.get(path) or site.routes.get(self.path))

            def log_message(self, format: str, *args: object) -> None:
                return  # keep test output clean; requests are recorded in site.requests

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _serve(self, handler: BaseHTTPRequestHandler, route: Route | None) -> None:
        if route is None:
            self._respond(handler, 404, b"not found", "text/plain", {})
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
                self._respond(handler, 304, b"", route.content_type, headers)
                return
        body = route.body if status == 200 else f"status {status}".encode()
        self._respond(handler, status, body, route.content_type, headers)

    @staticmethod
    def _respond(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if status != 304:
            handler.wfile.write(body)


@contextmanager
def running_site() -> Iterator[FixtureSite]:
    site = FixtureSite()
    site.start()
    try:
        yield site
    finally:
        site.stop()
