"""The news sources (``sources.yaml``): one typed entry per publisher."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from news_ingest.configfile import ConfigError, load_entries


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
    publisher: str | None = Field(
        default=None,
        description="Editions of one publisher (e.g. sputnik) are linked across languages.",
    )

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
