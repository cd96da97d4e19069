"""sources.yaml: sitemaps (plain and date-templated) and the revisit schedule, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from news_ingest.configfile import ConfigError
from news_ingest.settings import PROJECT_ROOT
from news_ingest.sources import load_sources

HEAD = """sources:
  - id: s
    name: S
    language: ar
    poll_minutes: 15
    feeds: [https://example.org/rss.xml]
"""


def write(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "sources.yaml").write_text(HEAD + extra, "utf-8")
    return tmp_path


def test_the_shipped_sputnik_source_has_a_dated_sitemap() -> None:
    (sputnik,) = [
        s for s in load_sources(PROJECT_ROOT / "include" / "config") if s.id == "sputnik_arabic"
    ]
    assert sputnik.sitemaps == [
        "https://sarabic.ae/sitemap_article.xml?date_start={date_start}&date_end={date_end}"
    ]
    assert sputnik.revisit.after_hours == (1, 6, 24, 72)


def test_defaults(tmp_path: Path) -> None:
    (source,) = load_sources(write(tmp_path, ""))
    assert source.sitemaps == [] and source.discover_sitemaps is True
    assert source.revisit.max_per_run == 50


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    sitemaps: ['https://example.org/s.xml?d={day}']\n", "unknown placeholder"),
        ("    sitemaps: ['ftp://example.org/s.xml']\n", r"not an http\(s\) URL"),
        ("    revisit: {after_hours: [6, 1]}\n", "strictly ascending"),
        ("    revisit: {after_hours: [0, 1]}\n", "positive"),
        ("    revisit: {max_per_run: -1}\n", "max_per_run"),
    ],
)
def test_bad_entries_name_the_fix(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sources(write(tmp_path, extra))
