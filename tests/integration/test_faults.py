"""Faults: Elasticsearch cut mid-run, a misbehaving source, bad input. Nothing is lost.

Every test serves a generated site on 127.0.0.1 (``news_ingest.local.fixturesite.generate_site``),
which knows what each page should become, and ends with an exact count check against what
the site served: indexed, lost (0) and duplicated (0), printed as one line.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from elasticsearch import Elasticsearch, helpers
from news_ingest import staging
from news_ingest.crawl.feeds import parse_feed
from news_ingest.crawl.fetcher import Fetcher, Page, Rejected
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import (
    FeedItem,
    SiteSpec,
    archive_items,
    generate_site,
    rss_feed,
    running_site,
)
from news_ingest.local.localnode import local_connection
from news_ingest.settings import Settings, get_settings
from tests.integration.conftest import run_cli
from tests.integration.tcpproxy import TcpProxy

pytestmark = pytest.mark.integration


def _indexed_urls(es: Elasticsearch, names: IndexNames) -> list[str]:
    es.indices.refresh(index=names.articles)
    return [
        hit["_source"]["url"]
        for hit in helpers.scan(es, index=names.articles, _source_includes=["url"])
    ]


def _report(expected: set[str], urls: list[str], faults: int) -> None:
    """The exact count check every fault test ends with, printed as one line."""
    lost = expected - set(urls)
    duplicated = len(urls) - len(set(urls))
    print(
        f"faults injected={faults} articles expected={len(expected)} indexed={len(urls)} "
        f"lost={len(lost)} duplicated={duplicated}"
    )
    assert not lost, sorted(lost)
    assert duplicated == 0
    assert set(urls) == expected, sorted(set(urls) - expected)


def _most_bytes_a_capped_read_lets_through(cap: int) -> int:
    """What a server can hand the kernel before a reader that stops at ``cap`` closes: the cap,
    both loopback socket buffers at their autotuning ceilings, and 1 MB for the client's own
    read buffer. (A fixed figure failed on a box whose receive ceiling is 32 MiB.)"""
    ceilings = (
        int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])
        for name in ("tcp_rmem", "tcp_wmem")
    )
    return cap + sum(ceilings) + 1_000_000


def _run(feeds: list[str], env: dict[str, str] | None = None, *, check: bool = True) -> str:
    """``news-ingest run`` over these feeds; its output (stdout and stderr)."""
    args = ["run", "--source", "sputnik_arabic"]
    for feed in feeds:
        args += ["--feed", feed]
    result = run_cli(*args, check=check, env=env)
    if not check:
        assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def test_elasticsearch_cut_mid_run_loses_nothing(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames, es_proxy: TcpProxy
) -> None:
    spec = SiteSpec(pages=100, feeds=2, seed=11, karabakh_share=0.0)
    _, user, password = local_connection(get_settings())
    env = {
        "NEWS_INGEST_ES_URL": es_proxy.url,
        "NEWS_INGEST_ES_USER": user or "",
        "NEWS_INGEST_ES_PASSWORD": password or "",
        "NEWS_INGEST_BATCH_SIZE": "20",
    }
    with running_site() as site:
        generated = generate_site(site, spec)
        # The first batch's bulk writes (its articles, then its stories) go through; the
        # second batch's articles find Elasticsearch gone.
        es_proxy.cut_at_request(b"/_bulk", 3)
        output = _run(generated.feed_urls, env, check=False)
        assert es_proxy.is_cut
        # The client's own retries log their tracebacks; the run ends with one clear line.
        assert "error: Elasticsearch became unreachable during the run" in output, output

        staged = _staged_documents(
            Path(ingest_env["NEWS_INGEST_STAGING_URL"].removeprefix("file://"))
        )
        assert staged == spec.pages - 20  # every batch but the indexed one waits on disk
        assert len(_indexed_urls(es, names)) == 20

        es_proxy.restore()
        recovered = _run(generated.feed_urls, env)
        assert "feeds_unchanged" in recovered  # nothing new: all came from staging
        assert {site.count(a.path) for a in generated.articles} == {1}  # none fetched twice

    expected = {generated.url(a) for a in generated.articles}
    _report(expected, _indexed_urls(es, names), faults=1)


def _staged_documents(staging_dir: Path) -> int:
    paths = sorted(staging_dir.glob("*/*/docs-*.jsonl.gz"))
    return sum(
        1
        for path in paths
        for record in staging.read_records(staging.storage_path(path.as_uri()))
        if "rejected" not in record
    )


MISBEHAVIOUR = {
    "slow": 2,
    "flaky-5xx": 3,
    "rate-limited": 3,
    "http-500": 2,
    "timeout": 2,
    "reset": 2,
}


def test_a_misbehaving_source_costs_only_its_bad_pages(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    spec = SiteSpec(
        pages=40, feeds=2, seed=12, faults=MISBEHAVIOUR, hang_seconds=3.0, karabakh_share=0.0
    )
    env = {"NEWS_INGEST_FETCH_TIMEOUT": "1", "NEWS_INGEST_FETCH_RETRIES": "2"}
    with running_site() as site:
        generated = generate_site(site, spec)
        output = _run(generated.feed_urls, env)
        # Bounded retries: each failing page was asked for exactly as many times as allowed,
        # and each page that failed once was asked for once more, not again and again. A
        # reset counts twice per try: aiohttp resends a GET once when the connection drops
        # before the answer (on keep-alive, the usual cause is an idle connection closed).
        tries = {a.fault: site.count(a.path) for a in generated.articles if a.fault}
        assert tries == {
            "slow": 1,
            "flaky-5xx": 2,
            "rate-limited": 2,
            "http-500": 2,
            "timeout": 2,
            "reset": 4,
        }, output

    rejects = {row["url"]: row["reason"] for row in json.loads(run_cli("rejects", "--json").stdout)}
    expected_rejects = {
        generated.url(a): a.expected for a in generated.articles if a.expected != "indexed"
    }
    assert rejects == expected_rejects
    expected = {generated.url(a) for a in generated.articles if a.expected == "indexed"}
    _report(expected, _indexed_urls(es, names), faults=sum(MISBEHAVIOUR.values()))


BAD_PAGES = {
    "charset-latin1-header": 1,
    "charset-wrong": 1,
    "charset-missing": 1,
    "binary": 1,
    "redirect-loop": 1,
    "oversize": 1,
}
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
{entities}
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>{link}</link></item>
</channel></rss>"""


def _billion_laughs(link: str) -> bytes:
    """Nine levels of ten references each: 10^9 "lol"s if a parser expanded them."""
    levels = ['<!ENTITY lol1 "' + "&lol;" * 10 + '">']
    levels += [f'<!ENTITY lol{n} "' + f"&lol{n - 1};" * 10 + '">' for n in range(2, 10)]
    return BILLION_LAUGHS.format(entities="\n".join(levels), link=link).encode()


def test_bad_input_is_refused_or_recovered_and_never_crashes_a_run(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    spec = SiteSpec(pages=30, feeds=5, seed=19, faults=BAD_PAGES, karabakh_share=0.0)
    with running_site() as site:
        generated = generate_site(site, spec)
        by_feed = [[a for a in generated.articles if a.feed == n] for n in range(spec.feeds)]
        feeds = generated.feed_paths
        # feed 2 truncated after two items (a third cut before its link), feed 3 malformed
        # XML (a raw "&" and a stray tag), feed 4 an entity-expansion bomb linking one page.
        whole = site.routes[feeds[2]].body
        second_item_end = whole.index(b"</item>", whole.index(b"</item>") + 1) + len(b"</item>")
        site.routes[feeds[2]].body = whole[:second_item_end] + b"\n<item><title>cut mid-"
        site.routes[feeds[3]].body = site.routes[feeds[3]].body.replace(
            b"</title>", b" & co <b></title>", 1
        )
        site.routes[feeds[4]].body = _billion_laughs(generated.url(by_feed[4][0]))
        # An article page served where a feed should be, and a feed of two hostile pages: twice
        # what a capped read can let through, streamed without Content-Length, and random bytes
        # labelled as HTML.
        site.add("/feeds/page.xml", site.routes[by_feed[0][0].path].body)
        most_let_through = _most_bytes_a_capped_read_lets_through(get_settings().max_page_bytes)
        big_body = b"<html><body>" + b"x" * (2 * most_let_through)
        site.add("/big.html", big_body, declare_length=False)
        site.add("/noise.html", bytes(range(256)) * 200, content_type="text/html")
        big, noise = site.url("/big.html"), site.url("/noise.html")
        site.add_feed("/feeds/hostile.xml", [FeedItem(link=u, title=u) for u in (big, noise)])
        urls = [*generated.feed_urls, site.url("/feeds/page.xml"), site.url("/feeds/hostile.xml")]

        output = _run(urls)
        assert site.bytes_sent["/big.html"] <= most_let_through  # the size cap stopped the read

    served = [*by_feed[0], *by_feed[1], *by_feed[2][:2], *by_feed[3], by_feed[4][0]]
    assert "feeds_malformed" in output
    rejects = {row["url"]: row["reason"] for row in json.loads(run_cli("rejects", "--json").stdout)}
    expected_rejects = {generated.url(a): a.expected for a in served if a.expected != "indexed"}
    expected_rejects.update({big: "too-large", noise: "no-article-text"})
    assert rejects == expected_rejects
    expected = {generated.url(a) for a in served if a.expected == "indexed"}
    urls_indexed = _indexed_urls(es, names)
    titles = {
        hit["_source"]["url"]: hit["_source"]["title"]
        for hit in helpers.scan(es, index=names.articles, _source_includes=["url", "title"])
    }
    for article in served:
        if article.fault and article.fault.startswith("charset"):
            assert titles[generated.url(article)] == article.title, article.fault
    faults = sum(BAD_PAGES.values()) + 3 + 1 + 2  # pages, broken feeds, page-as-feed, hostile
    _report(expected, urls_indexed, faults=faults)


def test_links_and_redirects_into_private_space_are_refused() -> None:
    public = "93.184.215.14"  # a public address; the site, as the proxy, keeps it on loopback
    private_links = [
        "http://127.0.0.1:9200/_cat/indices",
        "http://10.1.2.3/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",  # carrier-grade NAT (a cloud's metadata)
        "http://2130706433:9200/",  # 127.0.0.1 in decimal
        "http://0x7f.1:9200/",  # hex, short form
        "http://0177.0.0.1:9200/",  # octal
        "http://0.0.0.0:9200/",
        "http://[::ffff:127.0.0.1]:9200/",  # IPv4-mapped IPv6
        "http://localhost.:9200/",  # trailing dot
        f"http://{public}/redirect-to-metadata",
    ]
    with running_site() as site:
        site.add(
            "/redirect-to-metadata",
            status=302,
            headers={"Location": "http://169.254.169.254/latest/meta-data/"},
        )
        site.add(
            "/feed.xml",
            rss_feed(
                [FeedItem(link=u, title=u) for u in private_links],
                title="hostile",
                link=f"http://{public}/",
            ),
        )
        settings = Settings(allow_private_hosts=False, fetch_retries=1)

        async def crawl() -> list[Page | Rejected]:
            # Every request goes to the site as a forward proxy: the SSRF guard sees the
            # public host, and no packet leaves the machine.
            session = aiohttp.ClientSession(proxy=site.base_url)
            async with Fetcher(settings, session) as fetcher:
                feed = await fetcher.get(f"http://{public}/feed.xml")
                entries = parse_feed(feed.body, feed.final_url).entries
                return await fetcher.fetch_pages(e.url for e in entries)

        results = asyncio.run(crawl())
        requested = [path for path, _ in site.requests]

    assert [(r.url, getattr(r, "reason", None)) for r in results] == [
        (url, "private-address") for url in private_links
    ]
    # Only the public hops reached the site; nothing was sent to a private address.
    assert requested == ["/feed.xml", "/robots.txt", "/redirect-to-metadata"]
    print(f"faults injected={len(private_links)} articles expected=0 indexed=0 lost=0 duplicated=0")


def test_a_slow_drip_server_is_a_timeout_reject(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    """Pages that send a byte at a time never trip the read timeout; the deadline ends them."""
    env = {
        "NEWS_INGEST_FETCH_TIMEOUT": "1",
        "NEWS_INGEST_FETCH_DEADLINE": "2",
        "NEWS_INGEST_FETCH_RETRIES": "2",
    }
    spec = SiteSpec(pages=12, feeds=1, seed=21, karabakh_share=0.0, min_bytes=20_000)
    with running_site() as site:
        generated = generate_site(site, spec)
        dripping = generated.articles[:3]
        # Three rates, all far below the read timeout per byte.
        for article, rate in zip(dripping, (0.05, 0.2, 0.5), strict=True):
            site.routes[article.path].drip = rate
        started = time.monotonic()
        _run(generated.feed_urls, env)
        took = time.monotonic() - started
        assert {site.count(a.path) for a in dripping} == {1}  # a deadline is not retried
    rejects = {row["url"]: row for row in json.loads(run_cli("rejects", "--json").stdout)}
    assert {url: row["reason"] for url, row in rejects.items()} == {
        generated.url(a): "timeout" for a in dripping
    }
    assert all("deadline" in row["detail"] for row in rejects.values())
    print(f"slow-drip pages={len(dripping)} run seconds={took:.0f}")
    expected = {generated.url(a) for a in generated.articles[3:]}
    _report(expected, _indexed_urls(es, names), faults=len(dripping))


def test_a_100k_item_feed_is_accepted_and_planned(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames, tmp_path: Path
) -> None:
    """An archive feed of 100k items (~33 MB) is above the page cap, within the feed cap."""
    from news_ingest import pipeline
    from news_ingest.es import indices
    from news_ingest.sources import get_source

    items = archive_items(100_000)
    settings = get_settings()
    indices.install(es, settings.index_prefix)
    source = get_source(settings.config_dir, "sputnik_arabic")
    with running_site() as site:
        site.add_feed("/archive.xml", items)
        size = len(site.routes["/archive.xml"].body)
        assert settings.max_page_bytes < size < settings.max_feed_bytes
        folder = staging.run_folder(settings.staging_base, source.id, "archive")
        paths, counts = pipeline.plan(source, [site.url("/archive.xml")], settings, es, folder)
    planned = sum(1 for path in paths for _ in staging.read_records(staging.storage_path(path)))
    print(
        f"feed MB={size / 1e6:.1f} items expected={len(items)} planned={planned} "
        f"batches={len(paths)} lost={len(items) - planned} duplicated=0"
    )
    assert counts["feeds_polled"] == 1 and "feeds_failed" not in counts, counts
    assert planned == counts["new"] == len(items)
    assert len(paths) == -(-len(items) // settings.batch_size)
