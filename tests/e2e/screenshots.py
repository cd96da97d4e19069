"""The README's screenshots, from a running `make demo`: one of each page, taken with the
same headless chromium the browser tests use.

    .venv/bin/python -m tests.e2e.screenshots http://127.0.0.1:8080 viewer PASSWORD
"""

from __future__ import annotations

import argparse
from urllib.parse import quote

from playwright.sync_api import sync_playwright

from news_ingest.settings import PROJECT_ROOT
from tests.e2e.conftest import CHROMIUM
from tests.e2e.stack import sign_in

DOCS = PROJECT_ROOT / "docs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("user")
    parser.add_argument("password")
    args = parser.parse_args()
    views = f"{args.url}/news-ingest"
    DOCS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        sign_in(page, args.url, args.user, args.password)
        page.goto(f"{views}/search?q={quote('قرة باغ')}")
        page.screenshot(path=str(DOCS / "search.png"))
        page.locator("article.result h3 a").first.click()
        page.wait_for_selector("#article")
        page.screenshot(path=str(DOCS / "article.png"))
        page.goto(f"{views}/alerts")
        page.screenshot(path=str(DOCS / "alerts.png"))
        page.goto(f"{views}/health")
        page.screenshot(path=str(DOCS / "health.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
