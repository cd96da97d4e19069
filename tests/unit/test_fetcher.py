"""The fetcher against a real HTTP server on 127.0.0.1 (no Elasticsearch needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from news_ingest.crawl.fetcher import Fetcher, FetchError, Page, Rejected, retry_after_seconds
from news_ingest.local.fixturesite import FixtureSite, running_site
from news_ingest.settings import Settings

ARABIC = "<html><head><meta charset='windows-1256'></head><body><p>قره باغ</p></body></html>"


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    with running_site() as site:
        yield site


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "allow_private_hosts": True,
        "fetch_retries": 3,
        "fetch_timeout": 2.0,
        "max_page_bytes": 10_000,
    }
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


def fetch(url: str, config: Settings | None = None) -> Page | Rejected:
    async def go() -> Page | Rejected:
        async with Fetcher(config or settings()) as fetcher:
            return await fetcher.fetch_page(url)

    return asyncio.run(go())


def test_page_in_windows_1256_comes_out_as_arabic(site: FixtureSite) -> None:
    site.add("/a.html", ARABIC.encode("windows-1256"), content_type="text/html")
    result = fetch(site.url("/a.html"))
    assert isinstance(result, Page)
    html, charset = result.text()
    assert "قره باغ" in html
    assert charset == "cp1256"


def test_user_agent_names_the_project(site: FixtureSite) -> None:
    site.add("/a.html", "<html><p>x</p></html>")
    fetch(site.url("/a.html"))
    (_, headers) = next(r for r in site.requests if r[0] == "/a.html")
    assert headers["User-Agent"].startswith("news-ingest/")


@pytest.mark.parametrize(("status", "reason"), [(404, "http-404"), (410, "http-410")])
def test_gone_pages_are_rejected_without_retry(site: FixtureSite, status: int, reason: str) -> None:
    site.add("/gone.html", status=status)
    result = fetch(site.url("/gone.html"))
    assert isinstance(result, Rejected) and result.reason == reason
    assert site.count("/gone.html") == 1


def test_non_html_is_rejected(site: FixtureSite) -> None:
    site.add("/x.pdf", b"%PDF-1.4", content_type="application/pdf")
    result = fetch(site.url("/x.pdf"))
    assert isinstance(result, Rejected) and result.reason == "not-html"


def test_transient_errors_are_retried(site: FixtureSite) -> None:
    site.add("/flaky.html", "<html><p>ok</p></html>", failures=[503, 429])
    site.routes["/flaky.html"].headers["Retry-After"] = "0"
    result = fetch(site.url("/flaky.html"))
    assert isinstance(result, Page)
    assert site.count("/flaky.html") == 3


def test_retries_are_bounded(site: FixtureSite) -> None:
    site.add("/down.html", status=503)
    result = fetch(site.url("/down.html"), settings(fetch_retries=2))
    assert isinstance(result, Rejected) and result.reason == "http-503"
    assert site.count("/down.html") == 2


def test_redirects_are_followed_and_loops_stopped(site: FixtureSite) -> None:
    site.add("/old.html", status=301, headers={"Location": "/new.html"})
    site.add("/new.html", "<html><p>moved</p></html>")
    site.add("/loop-a", status=302, headers={"Location": "/loop-b"})
    site.add("/loop-b", status=302, headers={"Location": "/loop-a"})
    moved = fetch(site.url("/old.html"))
    assert isinstance(moved, Page) and moved.final_url == site.url("/new.html")
    loop = fetch(site.url("/loop-a"))
    assert isinstance(loop, Rejected) and loop.reason == "redirect-loop"


def test_oversize_pages_are_refused(site: FixtureSite) -> None:
    site.add("/huge.html", b"<html>" + b"x" * 50_000)
    result = fetch(site.url("/huge.html"))
    assert isinstance(result, Rejected) and result.reason == "too-large"


def test_private_addresses_are_refused_unless_allowed(site: FixtureSite) -> None:
    site.add("/a.html", "<html><p>x</p></html>")
    strict = settings(allow_private_hosts=False)
    for url in (site.url("/a.html"), "http://10.0.0.1/x", "http://169.254.169.254/latest/"):
        result = fetch(url, strict)
        assert isinstance(result, Rejected) and result.reason == "private-address", url
    assert site.count("/a.html") == 0


def test_robots_txt_is_respected(site: FixtureSite) -> None:
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.add("/private/a.html", "<html><p>x</p></html>")
    result = fetch(site.url("/private/a.html"))
    assert isinstance(result, Rejected) and result.reason == "robots-disallowed"
    assert site.count("/private/a.html") == 0


def test_connection_reset_is_reported(site: FixtureSite) -> None:
    site.add("/reset.html", reset=True)
    result = fetch(site.url("/reset.html"), settings(fetch_retries=1))
    assert isinstance(result, Rejected) and result.reason == "connection-error"


def test_slow_server_times_out(site: FixtureSite) -> None:
    site.add("/slow.html", "<html></html>", delay=1.5)
    result = fetch(site.url("/slow.html"), settings(fetch_timeout=0.3, fetch_retries=1))
    assert isinstance(result, Rejected) and result.reason == "timeout"


def test_retry_after_forms() -> None:
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds("99999") == 60.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("garbage") == 0.0
    assert retry_after_seconds(None) == 0.0


def test_requests_go_through_the_environment_proxy(
    site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The site answers as a forward proxy: the guard checks the public target, and the
    # request reaches the proxy, not the internet.
    monkeypatch.setenv("HTTP_PROXY", site.base_url)
    site.add("/a.html", "<html><p>via proxy</p></html>")
    result = fetch("http://93.184.215.14/a.html", settings(allow_private_hosts=False))
    assert isinstance(result, Page) and b"via proxy" in result.body
    assert site.count("/a.html") == 1


def test_no_proxy_hosts_are_fetched_directly(
    site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    site.add("/a.html", "<html><p>direct</p></html>")
    result = fetch(site.url("/a.html"), settings(fetch_retries=1))
    assert isinstance(result, Page) and b"direct" in result.body


def test_escaped_reserved_characters_are_requested_as_written(site: FixtureSite) -> None:
    site.add("/a%3A-b.html", "<html><p>x</p></html>")
    result = fetch(site.url("/a%3A-b.html"))
    assert isinstance(result, Page)
    assert site.count("/a%3A-b.html") == 1


def test_slow_drip_server_hits_the_total_deadline(site: FixtureSite) -> None:
    # A byte every 0.1 s never lets the 1 s read timeout fire; the 1.5 s deadline does,
    # and once: a retry would only hold the slot again.
    site.add("/drip.html", b"<html><p>" + b"x" * 200 + b"</p></html>", drip=0.1)
    config = settings(fetch_timeout=1.0, fetch_deadline=1.5, fetch_retries=3)
    started = time.monotonic()
    result = fetch(site.url("/drip.html"), config)
    elapsed = time.monotonic() - started
    assert isinstance(result, Rejected) and result.reason == "timeout", result
    assert "deadline" in result.detail
    assert elapsed < 4.0
    assert site.count("/drip.html") == 1


def test_unresolvable_host_is_a_dns_reject() -> None:
    result = fetch("http://no-such-host.invalid/a.html", settings(allow_private_hosts=False))
    assert isinstance(result, Rejected) and result.reason == "dns", result


def test_feeds_have_their_own_size_cap(site: FixtureSite) -> None:
    body = b"<rss>" + b"x" * 30_000 + b"</rss>"
    site.add("/feed.xml", body, content_type="application/rss+xml")

    async def get(cap: int | None) -> int:
        async with Fetcher(settings()) as fetcher:
            return len((await fetcher.get(site.url("/feed.xml"), max_bytes=cap)).body)

    assert asyncio.run(get(50_000)) == len(body)  # above the 10 KB page cap
    with pytest.raises(FetchError) as refused:
        asyncio.run(get(20_000))
    assert refused.value.reason == "too-large"


def test_redirect_into_private_space_is_refused(
    site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A public URL (through a proxy: the site answers as one) that redirects to loopback:
    # the hop is checked like the first request and never made.
    monkeypatch.setenv("HTTP_PROXY", site.base_url)
    site.add("/a.html", status=302, headers={"Location": "http://127.0.0.1:1/secret"})
    for location in ("http://127.0.0.1:1/secret", "http://0x7f.1/", "http://100.100.100.200/"):
        site.routes["/a.html"].headers["Location"] = location
        result = fetch("http://93.184.215.14/a.html", settings(allow_private_hosts=False))
        assert isinstance(result, Rejected) and result.reason == "private-address", location
