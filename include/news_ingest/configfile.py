"""Loading YAML config files into typed models, with errors a person can act on.

Every config file (sources, topics, watchlists) is a mapping with one list of entries; an
error names the file, the entry (by its ``id`` when it has one) and what to change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(ValueError):
    """A config file is missing, unreadable or invalid; the message says how to fix it."""


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; set NEWS_INGEST_CONFIG_DIR") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_entries(path: Path, key: str, model: type[Model]) -> list[Model]:
    """Validate ``data[key]`` (a list) as ``model`` entries; ids must be unique."""
    raw = read_yaml_mapping(path).get(key)
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: expected a non-empty list under '{key}:'")
    entries: list[Model] = []
    seen: set[str] = set()
    for position, item in enumerate(raw, start=1):
        label = _entry_label(key, position, item)
        entry = validate_entry(model, item, f"{path}: {label}")
        entry_id = getattr(entry, "id", None)
        if entry_id is not None:
            if entry_id in seen:
                raise ConfigError(f"{path}: {label}: duplicate id; give each entry its own id")
            seen.add(entry_id)
        entries.append(entry)
    return entries


def validate_entry(model: type[Model], item: object, where: str) -> Model:
    """One entry as ``model``; a ConfigError starting with ``where`` says what to change."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_explain(exc)}") from None


def _entry_label(key: str, position: int, item: object) -> str:
    entry_id = item.get("id") if isinstance(item, dict) else None
    return f"{key} entry #{position}" + (f" (id '{entry_id}')" if entry_id else "")


def _explain(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "entry"
        problems.append(f"field '{where}': {error['msg']}")
    return "; ".join(problems)
