"""Index layout: names, templates and the analysis chosen from what the node can do.

Articles live in a versioned index behind an alias (``<prefix>-articles`` ->
``<prefix>-articles-v1``) so a mapping change is a reindex and an atomic alias swap
(`news-ingest reindex`, news_ingest.es.reindex). The ``-vN`` suffix counts generations; the
mapping version and the Python folding version an index was built with are in its ``_meta``.

Analysis: the full chain (``analysis-arabic.json``) needs analyzers and filters that a full
Elasticsearch has in its ``analysis-common`` module and the local node gets from the project's
``news-ingest-analysis`` plugin. Which one a node has does not matter: the chain is chosen by
asking the node to analyse with every analyzer of it (``_analyze`` probes), and a node that
cannot gets the core fallback. The choice, and the analysis plugins the node carries, are
written into the index ``_meta`` so nobody has to guess later.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch
from news_ingest.settings import PROJECT_ROOT
from news_ingest.text.folding import FOLDING_VERSION

log = logging.getLogger(__name__)

TEMPLATES_DIR = PROJECT_ROOT / "include" / "elasticsearch"
# 2: norm.* folded copies, .en/.fr/.ru subfields, index.query.default_field.
# 3: extraction.quality (extract.quality), searchable and aggregatable; story_id,
#    duplicate_of, story_similarity, fingerprint (news_ingest.text.stories), figures and
#    cross_lingual (news_ingest.text.crosslingual).
# 4: an article's times (updated_at, first_seen_at, edited_at, next_revisit_at), revision,
#    discovered_via, extraction.updated_source.
ARTICLES_MAPPING_VERSION = 4
# Best first; the last one must work on any node.
ANALYSIS_VARIANTS = ("arabic", "core")
PROBE_TEXT = "والكتابات في قره باغ ١٢٣ The Leaders' talks"
STATE_INDICES = (
    "feeds",
    "rejects",
    "alerts",
    "leases",
    "watchlists",
    "boilerplate",
    "revisions",
    "stories",
)


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

    @property
    def revisions(self) -> str:
        return f"{self.prefix}-revisions"

    @property
    def leases(self) -> str:
        return f"{self.prefix}-leases"

    @property
    def watchlists(self) -> str:
        return f"{self.prefix}-watchlists"

    @property
    def boilerplate(self) -> str:
        return f"{self.prefix}-boilerplate"

    @property
    def stories(self) -> str:
        return f"{self.prefix}-stories"


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


def node_plugins(es: Elasticsearch) -> list[str]:
    """``name version`` of each plugin the nodes carry (modules are part of the distribution)."""
    nodes = es.nodes.info(metric="plugins")["nodes"]
    found = {
        f"{plugin['name']} {plugin['version']}"
        for node in nodes.values()
        for plugin in node.get("plugins", [])
    }
    return sorted(found)


def analysis_probes(analysis: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``_analyze`` body per analyzer of an analysis section, filters defined inline."""
    filters: dict[str, Any] = analysis.get("filter", {})
    probes = []
    for definition in analysis["analyzer"].values():
        if definition["type"] == "custom":
            chain = [filters.get(name, name) for name in definition.get("filter", [])]
            probe = {"tokenizer": definition["tokenizer"], "filter": chain}
        else:
            probe = {"analyzer": definition["type"]}
        probes.append({**probe, "text": PROBE_TEXT})
    return probes


def can_analyse(es: Elasticsearch, analysis: dict[str, Any], index: str | None = None) -> bool:
    """Whether the node runs every analyzer of ``analysis``. Asked through an ``index``
    (any), the probe needs only that index's ``indices:admin/analyze``, not cluster
    ``manage``: the writer role is allowed that and no more."""
    for probe in analysis_probes(analysis):
        try:
            es.indices.analyze(index=index, **probe)
        except BadRequestError:
            return False
    return True


def analysis_variant(es: Elasticsearch, index: str | None = None) -> str:
    """The best analysis chain every analyzer of which this node can run."""
    usable = (
        v for v in ANALYSIS_VARIANTS[:-1] if can_analyse(es, load_body(f"analysis-{v}"), index)
    )
    return next(usable, ANALYSIS_VARIANTS[-1])


def articles_index_body(
    variant: str, version: int = ARTICLES_MAPPING_VERSION, plugins: list[str] | None = None
) -> dict[str, Any]:
    body = load_body("articles")
    body["settings"]["analysis"] = load_body(f"analysis-{variant}")
    body["mappings"]["_meta"] = {
        "mapping_version": version,
        "folding": FOLDING_VERSION,
        "analysis": variant,
        "analysis_note": (
            "full Arabic chain (normalisation, stop words, light stemming)"
            if variant == "arabic"
            else "fallback: the node cannot run the Arabic chain; standard + Arabic stop words"
        ),
        "node_plugins": plugins or [],
    }
    return body


def install(es: Elasticsearch, prefix: str) -> str:
    """Create the templates and indices a run needs; idempotent. Returns the analysis variant."""
    names = IndexNames(prefix)
    for state in STATE_INDICES:
        body = load_body(state)
        if not _create_if_missing(es, f"{prefix}-{state}", body):
            _add_new_fields(es, f"{prefix}-{state}", body["mappings"])
    variant = put_articles_template(es, names)
    if variant == "core":
        log.warning(
            "event=analysis_fallback the node cannot run the Arabic analysis chain "
            "(analysis-common or the news-ingest-analysis plugin): search uses the core chain"
        )
    if not es.indices.exists_alias(name=names.articles):
        first = names.articles_version(1)
        if not _create_if_missing(
            es, first, {"aliases": {names.articles: {"is_write_index": True}}}
        ):
            es.indices.put_alias(index=first, name=names.articles, is_write_index=True)
    else:
        _warn_if_outdated(es, names)
    return variant


def put_articles_template(es: Elasticsearch, names: IndexNames) -> str:
    """The template every ``<prefix>-articles-vN`` index is created from; returns its chain.

    The state indices must exist: the analysis probe goes through one of them."""
    variant = analysis_variant(es, names.feeds)
    body = articles_index_body(variant, plugins=node_plugins(es))
    es.indices.put_index_template(
        name=names.articles,
        index_patterns=[f"{names.articles}-v*"],
        priority=200,
        template={"settings": body["settings"], "mappings": body["mappings"]},
        meta={"managed_by": "news-ingest"},
    )
    return variant


def articles_target(es: Elasticsearch, names: IndexNames) -> str:
    """The one index behind the articles alias."""
    targets = sorted(es.indices.get_alias(name=names.articles))
    if len(targets) != 1:
        raise RuntimeError(f"alias {names.articles} points to {targets}, expected one index")
    return targets[0]


def index_meta(es: Elasticsearch, index: str) -> dict[str, Any]:
    meta: dict[str, Any] = es.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    return meta


def is_current(meta: dict[str, Any]) -> bool:
    """Whether an index built with ``meta`` has today's mapping and folded copies."""
    return (
        meta.get("mapping_version") == ARTICLES_MAPPING_VERSION
        and meta.get("folding") == FOLDING_VERSION
    )


def _warn_if_outdated(es: Elasticsearch, names: IndexNames) -> None:
    # Not fatal: the old mapping still takes searches; new documents fail until the reindex.
    index = articles_target(es, names)
    meta = index_meta(es, index)
    if not is_current(meta):
        log.warning(
            "event=articles_mapping_outdated index=%s mapping_version=%s folding=%s "
            "expected=%s/%s: run `news-ingest reindex`",
            index,
            meta.get("mapping_version"),
            meta.get("folding"),
            ARTICLES_MAPPING_VERSION,
            FOLDING_VERSION,
        )


def _add_new_fields(es: Elasticsearch, index: str, mappings: dict[str, Any]) -> None:
    """State indices only gain fields, so one made by an older version takes them in place."""
    current = es.indices.get_mapping(index=index)[index]["mappings"].get("properties", {})
    new = {k: v for k, v in mappings["properties"].items() if k not in current}
    if new:
        es.indices.put_mapping(index=index, properties=new)
        log.info("event=mapping_extended index=%s fields=%s", index, ",".join(sorted(new)))


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


def drop_all(es: Elasticsearch, prefix: str) -> list[str]:
    """Delete every index and template under ``prefix`` (the demo's fresh start, tests)."""
    existing = sorted(es.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
    if existing:
        es.indices.delete(index=",".join(existing))
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")
    return existing
