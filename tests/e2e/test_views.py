"""The plugin's pages in a real browser, served by a real Airflow API server over the real
local node: search, article, alerts (with a retry by an operator), feed health, and the
refusals (anonymous, viewer retrying, markup in an article)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from news_ingest.es import store
from news_ingest.extract.articles import content_hash
from news_ingest.settings import get_settings
from news_ingest.views.app import create_app
from tests.e2e.stack import BROKEN_FEED, SCRIPT_TITLE, Stack, sign_in
from tests.integration.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.e2e]

SEED_TITLE = "بوتين وماكرون يؤكدان أهمية امتثال الأطراف في قره باغ لاتفاقات وقف إطلاق النار"


def login(page: Page, stack: Stack, user: str, next_page: str = "search") -> None:
    """Sign in through Airflow's own login page, then land on one of the views."""
    sign_in(page, stack.url, user, stack.logins[user])
    page.goto(f"{stack.views}/{next_page}")


def every_route(stack: Stack) -> list[tuple[str, str]]:
    """(method, URL) of every route the views app has, path parameters filled in."""
    routes = []
    for route in create_app().routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            path = re.sub(r"\{[^}]+\}", stack.seed_id, route.path)  # type: ignore[attr-defined]
            routes.append((method, stack.views + path))
    return routes


def test_anonymous_requests_are_refused_on_every_route(stack: Stack) -> None:
    routes = every_route(stack)
    assert {path.rsplit("/news-ingest", 1)[1] for _, path in routes} >= {
        "/",
        "/search",
        f"/article/{stack.seed_id}",
        "/alerts",
        f"/alerts/{stack.seed_id}/retry",
        "/health",
    }
    for method, url in routes:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = httpx.request(method, url, headers=headers, follow_redirects=False)
            assert response.status_code in (401, 403), (method, url, response.status_code)
            assert "قره باغ" not in response.text


def test_search_finds_the_seed_article_first_with_the_match_marked(
    page: Page, stack: Stack
) -> None:
    login(page, stack, "viewer")
    page.get_by_placeholder(re.compile("Search articles")).fill("قرة باغ")
    page.get_by_role("button", name="Search").click()
    first = page.locator("article.result").first
    expect(first).to_have_attribute("data-id", stack.seed_id)
    marks = first.locator("h3.title mark").all_inner_texts()
    assert marks == ["قره", "باغ"]
    expect(first.locator("h3.title")).to_have_attribute("dir", "auto")
    # The facet counts come with the results.
    karabakh = page.locator(".facet[data-facet=watchlist] .facet-value[data-value=karabakh]")
    expect(karabakh).to_be_visible()

    first.locator("h3.title a").click()
    expect(page.locator("#article h1")).to_have_text(SEED_TITLE)
    expect(page.locator("#watchlist-hits")).to_contain_text("karabakh")
    # Watchlist hits are marked where they are, in the lede and the body.
    for part in ("lede", "body"):
        marked = page.locator(f"#article .{part} mark").all_inner_texts()
        assert marked and all(text.endswith("قره باغ") for text in marked), (part, marked)
    expect(page.locator("a.original")).to_have_attribute("href", re.compile("^http://127.0.0.1"))


def test_language_filter_narrows_the_results(page: Page, stack: Stack) -> None:
    login(page, stack, "viewer", "search?sort=date")
    page.locator(".facet[data-facet=language] .facet-value[data-value=en]").click()
    rows = page.locator("article.result")
    expect(rows.first).to_be_visible()
    languages = {row.get_attribute("data-language") for row in rows.all()}
    assert languages == {"en"}
    assert "language=en" in page.url
    expect(page.locator("#total")).to_contain_text("2 article(s)")


def test_markup_in_an_article_renders_as_text(page: Page, stack: Stack) -> None:
    login(page, stack, "viewer", f"article/{stack.script_id}")
    expect(page.locator("#article h1")).to_have_text(SCRIPT_TITLE)
    expect(page.locator("#article .body")).to_contain_text("<script>window.__pwned = true</script>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#article img").count() == 0
    page.goto(f"{stack.views}/search?q=headline+quotes+markup")
    expect(page.locator("article.result").first).to_contain_text("<script>")
    assert page.evaluate("window.__pwned") is None


def test_alerts_list_the_karabakh_alert_and_only_operators_retry(page: Page, stack: Stack) -> None:
    login(page, stack, "viewer", "alerts")
    row = page.locator(f"tr.alert[data-article='{stack.seed_id}']")
    expect(row).to_have_attribute("data-watchlist", "karabakh")
    expect(row).to_contain_text(SEED_TITLE)
    expect(row.locator(".channel[data-state=failed]")).to_contain_text("webhook:")
    expect(row.locator(".channel[data-state=delivered]")).to_have_text("log: delivered")
    assert row.locator("button.retry").count() == 0
    alert_id = row.get_attribute("data-id")
    # A viewer's POST is refused even when crafted by hand, with the viewer's own cookie.
    refused = page.request.post(f"{stack.views}/alerts/{alert_id}/retry")
    assert refused.status == 403
    assert stack.receiver.received == []

    page.context.clear_cookies()
    login(page, stack, "operator", "alerts")
    stack.receiver.failing = False
    row = page.locator(f"tr.alert[data-article='{stack.seed_id}']")
    row.locator("button.retry").click()
    expect(page.locator("#retried")).to_contain_text("delivered")
    row = page.locator(f"tr.alert[data-id='{alert_id}']")
    expect(row.locator(".channel[data-state=delivered]")).to_have_count(2)
    expect(row.locator(".delivery-state")).to_have_attribute("data-state", "delivered")
    expect(row.locator("button.retry")).to_have_count(0)
    assert [post["alert_id"] for post in stack.receiver.received] == [alert_id]


def test_feed_health_flags_the_failing_feed_and_the_redesigned_source(
    page: Page, stack: Stack
) -> None:
    login(page, stack, "viewer", "health")
    broken = page.locator(f"tr.feed[data-feed='{stack.site.url(BROKEN_FEED)}']")
    expect(broken.locator(".flags")).to_contain_text("failing (1 poll(s) in a row)")
    expect(broken).to_contain_text("500")
    healthy = page.locator("tr.feed:not(.flagged)")
    expect(healthy.first).to_be_visible()
    redesigned = page.locator("tr.source[data-source=fixture_redesigned]").first
    expect(redesigned.locator(".flags")).to_contain_text("profile-body-not-found: 100% of pages")
    fine = page.locator("tr.source[data-source=fixture_sputnik]").first
    expect(fine.locator(".flags")).to_have_text("ok")
    # The DAG tab narrows the page to one source.
    page.goto(f"{stack.views}/health?source=fixture_redesigned")
    expect(page.locator("tr.feed")).to_have_count(1)


def test_health_command_gives_the_same_figures(stack: Stack) -> None:
    done = run_cli("health", "--json", check=False, env=stack.env)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    flagged_feeds = {f["feed_url"] for f in report["feeds"] if f["flags"]}
    assert flagged_feeds == {stack.site.url(BROKEN_FEED)}
    flagged_sources = {s["source"] for s in report["sources"] if s["flags"]}
    assert flagged_sources == {"fixture_redesigned"}
    quiet = run_cli("health", "--source", "fixture_sputnik", "--json", check=False, env=stack.env)
    assert quiet.returncode == 1  # its broken feed


def test_one_per_story_folds_the_redesigned_copies_into_their_story(
    page: Page, stack: Stack
) -> None:
    # fixture_redesigned serves the Arabic fixture pages again under other URLs: copies.
    login(page, stack, "viewer", "search?q=قرة+باغ")
    articles = leading_number(page.locator("#total").inner_text())
    page.locator("input[name=stories]").check()
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#total")).to_contain_text("story(ies)")
    assert "stories=one" in page.url
    assert leading_number(page.locator("#total").inner_text()) < articles
    story = page.locator("article.result .story").first
    assert int(story.get_attribute("data-members") or 0) >= 2
    expect(story).to_contain_text("also reported by")


def leading_number(text: str) -> int:
    match = re.match(r"\s*(\d+)", text)
    assert match, text
    return int(match.group(1))


def test_an_edited_article_shows_its_revisions(page: Page, stack: Stack) -> None:
    es = store.connect(get_settings())
    stored = es.get(index=stack.names.articles, id=stack.script_id)["_source"]
    assert not stored.get("revision")
    # The newsroom adds a correction; the title stays (the markup test checks it).
    edited = {
        **stored,
        "_id": stack.script_id,
        "body": stored["body"] + "\n\nCorrection: the second paragraph was reworded.",
    }
    edited["content_hash"] = content_hash(edited)
    assert store.index_articles(es, stack.names, [edited]).updated == 1
    es.indices.refresh(index=f"{stack.names.articles},{stack.names.revisions}")

    login(page, stack, "viewer", f"article/{stack.script_id}")
    revisions = page.locator("#revisions")
    expect(revisions).to_contain_text("1 edit(s)")
    expect(revisions.locator(".revision")).to_have_count(1)
    expect(revisions.locator(".revision")).to_contain_text("revision 0")
    expect(revisions.locator(".revision")).to_contain_text("paragraphs +1 −0 ~0")
    expect(revisions.locator(".diff")).to_contain_text("{+Correction: the second paragraph")
    login(page, stack, "viewer", f"article/{stack.seed_id}")
    expect(page.locator("#revisions")).to_contain_text("none: the article is as first indexed")
