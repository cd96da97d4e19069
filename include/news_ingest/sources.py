"""The news sources (``sources.yaml``): one typed entry per publisher."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from news_ingest.configfile import ConfigError, load_entries


class Revisit(BaseModel):
    """When known articles are fetched again while young: edits happen in the first hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_hours: tuple[float, ...] = Field(
        default=(1.0, 6.0, 24.0, 72.0),
        description="Ages (hours since first seen) at which an article is fetched again.",
    )
    max_per_run: int = Field(
        default=50, ge=0, description="Revisits per run, after the new articles of the run."
    )

    @field_validator("after_hours")
    @classmethod
    def _ascending(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(hours <= 0 for hours in value) or list(value) != sorted(set(value)):
            raise ValueError("after_hours must be positive and strictly ascending, e.g. [1, 6, 24]")
        return value


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Also the Airflow DAG id.")
    name: str
    feeds: list[HttpUrl] = Field(min_length=1)
    language: str = Field(pattern=r"^[a-z]{2}$")
    poll_minutes: int = Field(ge=1, le=24 * 60)
    profile: str | None = None
    max_items: int | None = Field(default=None, ge=1)
    enabled: bool = True
    sitemaps: list[str] = Field(
        default_factory=list,
        description="Sitemap URLs; {date_start}/{date_end} (YYYYMMDD) make one dated per day.",
    )
    discover_sitemaps: bool = Field(
        default=True, description="Also walk the Sitemap: lines of the hosts' robots.txt."
    )
    revisit: Revisit = Revisit()
    publisher: str | None = Field(
        default=None,
        description="Editions of one publisher (e.g. sputnik) are linked across languages.",
    )

    @field_validator("sitemaps")
    @classmethod
    def _sitemap_urls(cls, value: list[str]) -> list[str]:
        from news_ingest.crawl.sitemaps import DATE_FIELDS, template_fields

        for template in value:
            unknown = template_fields(template) - DATE_FIELDS
            if unknown:
                raise ValueError(
                    f"sitemap {template!r}: unknown placeholder(s) {sorted(unknown)}; "
                    "only {date_start} and {date_end} (YYYYMMDD) are filled in"
                )
            sample = template.format(date_start="20260101", date_end="20260101")
            if urlsplit(sample).scheme not in ("http", "https") or not urlsplit(sample).hostname:
                raise ValueError(f"sitemap {template!r} is not an http(s) URL")
        return value

    @property
    def publisher_id(self) -> str:
        return self.publisher or self.id

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        from news_ingest.extract.profiles import profile_by_id

        if value is not None:
            try:
                profile_by_id(value)
            except KeyError as exc:
                raise ValueError(str(exc).strip("'\"")) from None
        return value

    @property
    def feed_urls(self) -> list[str]:
        return [str(url) for url in self.feeds]


def sources_file(config_dir: Path) -> Path:
    return config_dir / "sources.yaml"


def load_sources(config_dir: Path) -> list[Source]:
    return load_entries(sources_file(config_dir), "sources", Source)


def get_source(config_dir: Path, source_id: str) -> Source:
    sources = load_sources(config_dir)
    for source in sources:
        if source.id == source_id:
            return source
    known = ", ".join(source.id for source in sources)
    raise ConfigError(
        f"{sources_file(config_dir)}: no source with id '{source_id}'; known ids: {known}"
    )
