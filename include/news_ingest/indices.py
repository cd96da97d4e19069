"""Index layout: names, templates and the analysis chosen from what the node can do.

Articles live in a versioned index behind an alias (``<prefix>-articles`` ->
``<prefix>-articles-v1``) so a mapping change is a reindex and an atomic alias swap. The
Arabic analysis filters come from Elasticsearch's ``analysis-common`` module; a node
without it (the integ-test distribution used locally) gets the core fallback, and the
choice is written into the index ``_meta`` so nobody has to guess later.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch
from news_ingest.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

TEMPLATES_DIR = PROJECT_ROOT / "include" / "elasticsearch"
ARTICLES_MAPPING_VERSION = 1
ARABIC_MODULE = "analysis-common"
STATE_INDICES = ("feeds", "rejects", "alerts")


@dataclass(frozen=True)
class IndexNames:
    prefix: str

    @property
    def articles(self) -> str:
        return f"{self.prefix}-articles"

    def articles_version(self, version: int) -> str:
        return f"{self.articles}-v{version}"

    @property
    def feeds(self) -> str:
        return f"{self.prefix}-feeds"

    @property
    def rejects(self) -> str:
        return f"{self.prefix}-rejects"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}-alerts"


def load_body(name: str, templates_dir: Path = TEMPLATES_DIR) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((templates_dir / f"{name}.json").read_text("utf-8"))
    body.pop("_comment", None)
    return body


def node_modules(es: Elasticsearch) -> set[str]:
    nodes = es.nodes.info(metric="plugins")["nodes"]
    modules: set[str] = set()
    for node in nodes.values():
        modules.update(module["name"] for module in node.get("modules", []))
        modules.update(plugin["name"] for plugin in node.get("plugins", []))
    return modules


def analysis_variant(modules: set[str]) -> str:
    return "arabic" if ARABIC_MODULE in modules else "core"


def articles_index_body(variant: str, version: int = ARTICLES_MAPPING_VERSION) -> dict[str, Any]:
    body = load_body("articles")
    body["settings"]["analysis"] = load_body(f"analysis-{variant}")
    body["mappings"]["_meta"] = {
        "mapping_version": version,
        "analysis": variant,
        "analysis_note": (
            "full Arabic chain (normalisation, stop words, light stemming)"
            if variant == "arabic"
            else f"fallback: node lacks {ARABIC_MODULE}; standard tokenizer + Arabic stop words"
        ),
    }
    return body


def install(es: Elasticsearch, prefix: str) -> str:
    """Create the templates and indices a run needs; idempotent. Returns the analysis variant."""
    names = IndexNames(prefix)
    variant = analysis_variant(node_modules(es))
    if variant == "core":
        log.warning(
            "event=analysis_fallback node lacks %s: Arabic search uses the core fallback chain",
            ARABIC_MODULE,
        )
    articles_body = articles_index_body(variant)
    es.indices.put_index_template(
        name=names.articles,
        index_patterns=[f"{names.articles}-v*"],
        priority=200,
        template={"settings": articles_body["settings"], "mappings": articles_body["mappings"]},
        meta={"managed_by": "news-ingest"},
    )
    if not es.indices.exists_alias(name=names.articles):
        first = names.articles_version(ARTICLES_MAPPING_VERSION)
        if not _create_if_missing(
            es, first, {"aliases": {names.articles: {"is_write_index": True}}}
        ):
            es.indices.put_alias(index=first, name=names.articles, is_write_index=True)
    for state in STATE_INDICES:
        _create_if_missing(es, f"{prefix}-{state}", load_body(state))
    return variant


def _create_if_missing(es: Elasticsearch, index: str, body: dict[str, Any]) -> bool:
    """Create ``index``; False if it exists (parallel tasks may race to create it)."""
    if es.indices.exists(index=index):
        return False
    try:
        es.indices.create(index=index, **body)
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
        return False
    return True
