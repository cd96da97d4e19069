"""The package's layering: no stage imports a stage above it, nor a runner (a plain AST walk).

Every subpackage must be ranked here: a new one fails the test until it is added to
``MAY_IMPORT``, with the stages it may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import news_ingest

PACKAGE = "news_ingest"
PACKAGE_DIR = Path(news_ingest.__file__).parent
# Top-level modules every stage may import; they import nothing else of the package.
CORE = frozenset({"settings", "configfile", "logs", "redaction"})
# What each stage may import besides itself and CORE. Every other top-level module is a
# runner or wiring (pipeline, cli, airflow_dags, ...): it may import anything, nothing may
# import it but another runner.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "text": frozenset(),
    "crawl": frozenset(),
    "local": frozenset(),
    "extract": frozenset({"text", "crawl"}),
    "es": frozenset({"text", "crawl", "local"}),
    "alerting": frozenset({"text", "es"}),
    # The analysts' and ops' pages (and the health figures): over the system of record.
    "views": frozenset({"text", "es", "alerting"}),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """Every ``news_ingest`` name a module of ``package`` imports (anywhere in it), absolute."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from news_ingest import es`` imports the subpackage es, not the root.
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return [(line, target) for line, target in found if target.split(".")[0] == PACKAGE]


def layer_of(module: str) -> str:
    """The stage of a dotted module name, "core" or "runner" (the package root is core)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    top = parts[1]
    if (PACKAGE_DIR / top).is_dir():
        return top
    if top in CORE or not (PACKAGE_DIR / f"{top}.py").exists():
        return "core"  # a name defined in news_ingest/__init__.py
    return "runner"


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """``line: target`` for each import of ``module`` (given its source) that breaks the layers."""
    importer = layer_of(module)
    package = module if is_package else module.rpartition(".")[0]
    faults = []
    for line, target in imported_modules(source, package):
        layer = layer_of(target)
        if importer == "runner" or layer in {"core", importer}:
            continue
        if importer == "core" or layer not in MAY_IMPORT[importer]:
            faults.append(f"{line}: {target}")
    return faults


MODULES = sorted(PACKAGE_DIR.rglob("*.py"))


def test_every_subpackage_is_ranked() -> None:
    stages = {p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").exists()}
    assert stages == set(MAY_IMPORT), "rank the new subpackage in MAY_IMPORT"


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_no_stage_imports_a_higher_one(path: Path) -> None:
    module = module_name(path)
    assert violations(path.read_text(), module, is_package=path.name == "__init__.py") == [], (
        f"{module} ({layer_of(module)}) imports from a stage above it"
    )


def test_the_walk_sees_every_kind_of_import() -> None:
    """A fault is found in each import form, at module level or inside a function."""
    source = (
        "import news_ingest.es.store\n"
        "from news_ingest import pipeline\n"
        "from news_ingest.crawl import urls\n"
        "def later():\n"
        "    from ..alerting.alerts import list_alerts\n"
        "    from news_ingest.settings import get_settings\n"
        "    from . import arabic\n"
        "    from news_ingest import es\n"
    )
    assert violations(source, "news_ingest.text.probe") == [
        "1: news_ingest.es.store",
        "2: news_ingest.pipeline",
        "3: news_ingest.crawl.urls",
        "5: news_ingest.alerting.alerts.list_alerts",
        "8: news_ingest.es",
    ]


def test_core_modules_import_no_stage() -> None:
    assert violations("from news_ingest.text import arabic\n", "news_ingest.settings") == [
        "1: news_ingest.text.arabic"
    ]
    assert violations("from news_ingest.es import store\n", "news_ingest.pipeline") == []
