"""The labelled set for cross-language links: hand-written tellings of events by one
publisher's editions (Arabic, English, French) and by another publisher, with hard cases
(same subject and day, another event; a follow-up a week later repeating the figures;
figures shared by chance). ``tests/fixtures/crosslingual.yaml`` holds the articles and
their labels; this module serves them on the loopback site as each source's feed and pages,
writes the sources into a config folder, and scores the links found against the labels.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import yaml

from news_ingest.local.fixturesite import FeedItem, FixtureSite
from news_ingest.settings import PROJECT_ROOT

BILINGUAL_SET = PROJECT_ROOT / "tests" / "fixtures" / "crosslingual.yaml"


@dataclass(frozen=True)
class Telling:
    id: str
    source: str
    event: str | None
    published: datetime
    title: str
    body: str

    @property
    def path(self) -> str:
        return f"/{self.source}/{self.id}.html"


@dataclass(frozen=True)
class BilingualSet:
    sources: list[dict[str, Any]]  # id, language, publisher (None: a publisher of its own)
    tellings: list[Telling]

    def publisher(self, source_id: str) -> str:
        entry = next(s for s in self.sources if s["id"] == source_id)
        return str(entry.get("publisher") or source_id)

    def truth(self) -> set[frozenset[str]]:
        """The pairs that should be linked: one event, one publisher, two languages."""
        language = {s["id"]: s["language"] for s in self.sources}
        return {
            frozenset((a.id, b.id))
            for a, b in itertools.combinations(self.tellings, 2)
            if a.event is not None
            and a.event == b.event
            and self.publisher(a.source) == self.publisher(b.source)
            and language[a.source] != language[b.source]
        }


def load_bilingual_set(path: Path = BILINGUAL_SET) -> BilingualSet:
    data = yaml.safe_load(path.read_text("utf-8"))
    start = datetime.fromisoformat(data["start"])
    tellings = [
        Telling(
            id=item["id"],
            source=item["source"],
            event=item["event"],
            published=start + timedelta(hours=item["hours"]),
            title=item["title"],
            body=item["body"],
        )
        for item in data["articles"]
    ]
    return BilingualSet(sources=data["sources"], tellings=tellings)


def serve(site: FixtureSite, bilingual: BilingualSet) -> dict[str, str]:
    """Each telling as a page and each source's feed on ``site``; the feed URL by source."""
    feeds = {}
    for source in bilingual.sources:
        items = []
        for telling in (t for t in bilingual.tellings if t.source == source["id"]):
            site.add(telling.path, _page(telling, source["language"]))
            items.append(
                FeedItem(
                    link=site.url(telling.path), title=telling.title, published=telling.published
                )
            )
        path = f"/{source['id']}/feed.xml"
        site.add_feed(path, items, title=source["id"])
        feeds[source["id"]] = site.url(path)
    return feeds


def _page(telling: Telling, language: str) -> str:
    paragraphs = "".join(f"<p>{escape(s.strip())}.</p>" for s in telling.body.split(". ") if s)
    title = escape(telling.title)
    published = telling.published.isoformat()
    return (
        f'<html lang="{language}"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="article:published_time" content="{published}"></head>'
        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


def write_config(config_dir: Path, bilingual: BilingualSet, feeds: Mapping[str, str]) -> None:
    """The project's config with the set's sources in ``sources.yaml``."""
    shutil.copytree(PROJECT_ROOT / "include" / "config", config_dir, dirs_exist_ok=True)
    sources = [
        {
            "id": source["id"],
            "name": source["id"],
            "language": source["language"],
            "poll_minutes": 60,
            "publisher": source.get("publisher"),
            "feeds": [feeds[source["id"]]],
        }
        for source in bilingual.sources
    ]
    (config_dir / "sources.yaml").write_text(
        yaml.safe_dump({"sources": sources}, allow_unicode=True), "utf-8"
    )


@dataclass(frozen=True)
class LinkScore:
    expected: int
    found: int
    right: int

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0

    def line(self) -> str:
        return (
            f"cross-lingual links expected={self.expected} found={self.found} "
            f"right={self.right} precision={self.precision:.3f} recall={self.recall:.3f}"
        )


def score(bilingual: BilingualSet, links: Iterable[tuple[str, str]]) -> LinkScore:
    """Links found (telling id, linked telling id; either direction) against the labels."""
    found = {frozenset(pair) for pair in links}
    truth = bilingual.truth()
    return LinkScore(expected=len(truth), found=len(found), right=len(found & truth))
