"""Browser-test fixtures: one stack per module (the API server is slow to start), Debian's
chromium driven by Playwright, and a screenshot of every failing test's page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from news_ingest.settings import PROJECT_ROOT
from tests.e2e.stack import Stack, running_stack

# Playwright's own browser builds cannot be downloaded here; Debian's chromium can
# (.ci/run installs it).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    item.stash.setdefault(FAILED, False)
    if getattr(report, "failed", False):
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


# Kept in the checkout: pytest's own temporary folders are pruned after three runs.
SCREENSHOTS = PROJECT_ROOT / ".state" / "e2e-failures"


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    opened = context.new_page()
    yield opened
    if request.node.stash.get(FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{request.node.name}.png"
        opened.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failing page: {shot}")
    context.close()
