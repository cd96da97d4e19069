"""A real, single Elasticsearch 9 node on this machine, for local mode and the tests.

``start`` does everything a fresh machine needs, once: fetch the distribution with ``mvn``,
unpack it, write a config dir of our own, create the password of the ``elastic`` superuser
and launch the node in the background; later calls find it all in place. Everything lives
under ``<state_dir>/es`` (see ``NodePaths``), so data survives ``stop``/``start``.

Distribution: Maven's ``integ-test-zip`` flavour of Elasticsearch, the one served from a
package registry. It brings no JDK (we find one, 21 or newer) and only four modules: x-pack
security is there, but analysis-common (the arabic analyzer) is not, nor rest-root, so
``GET /`` (the Python client's ``info()`` and ``ping()``) answers 405. The project's own
``news-ingest-analysis`` plugin (news_ingest.local.analysis_plugin), compiled and installed before
the first launch, brings the Arabic and language analysis back. ``NodeStatus.modules`` and
``NodeStatus.plugins`` say what the node has.

Security: x-pack security is on, with HTTP Basic auth. The ``elastic`` superuser's password
is random, generated at the first start, kept in ``credentials.json`` (mode 0600) and given
to the node as ``bootstrap.password`` in its keystore. The reserved ``elastic`` user accepts
the bootstrap password for as long as no other password is stored for it in the
``.security`` index, and this distribution cannot even create that index (its mapping needs
analysis-common's ``pattern_capture`` filter): so the password never drifts, and API keys
and native users are unavailable here. HTTP and transport run without TLS because both are
bound to 127.0.0.1 only: nothing leaves the machine, and a certificate would buy nothing
but a CA file every client must be given.

Root: Elasticsearch refuses to run as root, so when we are root the node runs as the system
user ``news-ingest-es``, created on first use, which owns the node's config, data and logs.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import yaml

from news_ingest.local import analysis_plugin
from news_ingest.settings import PROJECT_ROOT, Settings

ES_USER = "elastic"
NODE_ACCOUNT = "news-ingest-es"
CLUSTER_NAME = "news-ingest"
MIN_JAVA = 21
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
# Pinned so a machine with an empty Maven cache resolves the same plugin as ours.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
JVM_DIR = Path("/usr/lib/jvm")
# The project's roles (one file for production and here) and the file-realm users that
# hold them on the local node, so tests can prove what each role may and may not do.
ROLES_FILE = PROJECT_ROOT / "include" / "elasticsearch" / "roles.json"
PBKDF2_ROUNDS = 10_000
LOG_TAIL_LINES = 40
STOP_GRACE_SECONDS = 60.0


class LocalNodeError(RuntimeError):
    """The local node could not be set up, started or reached; the message says what to do."""


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    url: str
    user: str | None
    password: str | None
    version: str | None
    health: str | None
    modules: tuple[str, ...]
    plugins: tuple[str, ...]
    pid: int | None
    home: Path
    log_file: Path
    problem: str | None = None


@dataclass(frozen=True)
class NodePaths:
    """Where the node keeps everything: one tree under ``<state_dir>/es``."""

    root: Path
    version: str

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    @property
    def home(self) -> Path:
        return self.dist / f"elasticsearch-{self.version}"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def pid_file(self) -> Path:
        return self.run / "elasticsearch.pid"

    @property
    def log_file(self) -> Path:
        return self.logs / f"{CLUSTER_NAME}.log"

    @property
    def launcher_log(self) -> Path:
        return self.logs / "launcher.out"

    @property
    def plugin_build(self) -> Path:
        return self.root / "plugin-build"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    @property
    def role_users(self) -> Path:
        return self.root / "role-users.json"


@dataclass(frozen=True)
class Account:
    """The unprivileged user the node runs as when we are root."""

    name: str
    uid: int
    gid: int


def node_paths(settings: Settings) -> NodePaths:
    return NodePaths(root=settings.state_dir / "es", version=settings.es_version)


def node_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.es_port}"


# --- public entry points ---------------------------------------------------------------


def start(settings: Settings, *, timeout: float = 180) -> NodeStatus:
    """Set up (first time only) and start the node; return once it is yellow or green.

    ``timeout`` bounds the node's own start, not the one-time download before it.
    """
    paths = node_paths(settings)
    paths.root.mkdir(parents=True, exist_ok=True)
    with _locked(paths):
        current = status(settings)
        if current.running:
            # The node watches its realm files: users and roles apply without a restart.
            _write_file_realm(settings, paths, _node_account() if os.geteuid() == 0 else None)
            return current
        if current.problem:
            raise LocalNodeError(current.problem)
        password, new_password = _ensure_credentials(paths)
        # A live pid that does not answer yet is a node another start launched: wait for it.
        launcher = None
        if _live_pid(paths.pid_file) is None:
            launcher = _prepare(settings, paths, password, new_password)
        deadline = time.monotonic() + timeout
        if launcher:
            _launch(launcher, paths, deadline)
        _wait_until_ready(settings, paths, password, deadline)
    return status(settings)


def stop(settings: Settings) -> bool:
    """Stop the node (SIGTERM, then SIGKILL after a grace period); False if it was not running."""
    paths = node_paths(settings)
    pid = _live_pid(paths.pid_file)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except PermissionError:
        raise LocalNodeError(f"not allowed to stop the node (pid {pid}): run as root") from None
    if not _wait_for_exit(pid, STOP_GRACE_SECONDS):
        os.kill(pid, signal.SIGKILL)
        _wait_for_exit(pid, 10)
    with contextlib.suppress(FileNotFoundError):
        paths.pid_file.unlink()
    return True


def status(settings: Settings) -> NodeStatus:
    """What the node is doing now; a node that is down is a status, not an error."""
    paths = node_paths(settings)
    url = node_url(settings)
    credentials = _read_credentials(paths.credentials)
    user, password = credentials if credentials else (None, None)
    base = NodeStatus(
        running=False,
        url=url,
        user=user,
        password=password,
        version=None,
        health=None,
        modules=(),
        plugins=(),
        pid=_live_pid(paths.pid_file),
        home=paths.home,
        log_file=paths.log_file,
    )
    try:
        version, health, modules, plugins = _node_info(url, credentials)
    except httpx.TransportError:
        return base
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        why = "rejects our credentials" if credentials else "wants credentials we do not have"
        problem = f"{url} answers but {why} (HTTP {code}): is another Elasticsearch on that port?"
        if credentials is None and paths.credentials.exists():
            problem = f"{paths.credentials} is not readable by this user (HTTP {code} at {url})"
        return replace(base, problem=problem)
    return replace(
        base, running=True, version=version, health=health, modules=modules, plugins=plugins
    )


def describe(node: NodeStatus) -> str:
    """A few lines a person can read: how to reach the node and what state it is in."""
    state = "running" if node.running else "not usable" if node.problem else "not running"
    lines = [f"Elasticsearch local node: {state}"]
    rows = [("url", node.url), ("user", node.user), ("password", node.password)]
    if node.running:
        rows += [
            ("version", node.version),
            ("health", node.health),
            ("modules", ", ".join(node.modules)),
            ("plugins", ", ".join(node.plugins) or "none"),
        ]
    rows += [("pid", str(node.pid) if node.pid else None), ("home", str(node.home))]
    rows += [("log file", str(node.log_file))]
    lines += [f"  {name + ':':<10} {value}" for name, value in rows if value is not None]
    if node.problem:
        lines.append(f"  problem:   {node.problem}")
    elif not node.running:
        lines.append("  start it with: news-ingest es start")
    return "\n".join(lines)


def local_connection(settings: Settings) -> tuple[str, str | None, str | None]:
    """(url, user, password) of the local node, for the Elasticsearch client factory."""
    credentials = _read_credentials(node_paths(settings).credentials)
    user, password = credentials if credentials else (None, None)
    return node_url(settings), user, password


def role_users(settings: Settings) -> dict[str, Any]:
    """The file-realm users of the local node, one per project role (for tests).

    ``{"index_pattern": "news-*", "users": {"news_writer": {"user": ..., "password": ...}}}``;
    empty when the node has not been started since they were introduced.
    """
    try:
        data: dict[str, Any] = json.loads(node_paths(settings).role_users.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def load_roles(prefix: str, roles_file: Path = ROLES_FILE) -> dict[str, Any]:
    """The project's role descriptors with ``{prefix}`` replaced by the index prefix."""
    roles: dict[str, Any] = json.loads(roles_file.read_text("utf-8").replace("{prefix}", prefix))
    roles.pop("_comment", None)
    return roles


def pbkdf2_hash(password: str, salt: bytes | None = None, rounds: int = PBKDF2_ROUNDS) -> str:
    """A password hash in Elasticsearch's ``{PBKDF2}`` format (HMAC-SHA512, 256-bit key)."""
    salt = salt if salt is not None else secrets.token_bytes(32)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds, dklen=32)
    encode = base64.b64encode
    return f"{{PBKDF2}}{rounds}${encode(salt).decode()}${encode(key).decode()}"


def pbkdf2_matches(password: str, hashed: str) -> bool:
    match = re.fullmatch(r"\{PBKDF2\}([0-9]+)\$([^$]+)\$([^$]+)", hashed)
    if not match:
        return False
    expected = pbkdf2_hash(password, base64.b64decode(match.group(2)), int(match.group(1)))
    return secrets.compare_digest(expected, hashed)


# --- pure helpers (unit-tested) -----------------------------------------------------------


def java_major(release_text: str) -> int | None:
    """The major version in a JDK ``release`` file: ``JAVA_VERSION="25.0.3"`` -> 25."""
    match = re.search(r'^JAVA_VERSION="?([0-9][0-9._]*)', release_text, re.MULTILINE)
    if not match:
        return None
    parts = match.group(1).split(".")
    # Java 8 and older spell themselves "1.8.0_292".
    return int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0])


def find_java_home(env: Mapping[str, str], jvm_dir: Path = JVM_DIR) -> Path:
    """A JDK that can run the node: ES_JAVA_HOME, JAVA_HOME, else the newest under jvm_dir."""
    seen: list[str] = []
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        if env.get(var):
            home = Path(env[var])
            major = _jdk_major(home)
            if major is not None and major >= MIN_JAVA:
                return home
            seen.append(f"{var}={home} (Java {major or '?'})")
    candidates = sorted(jvm_dir.iterdir()) if jvm_dir.is_dir() else []
    found = [(major, home) for home in candidates if (major := _jdk_major(home)) is not None]
    seen += [f"{home} (Java {major})" for major, home in found]
    usable = [(major, home) for major, home in found if major >= MIN_JAVA]
    if usable:
        return max(usable, key=lambda pair: pair[0])[1]
    raise LocalNodeError(
        f"Elasticsearch needs Java {MIN_JAVA} or newer and none was found "
        f"(looked at: {', '.join(seen) or 'nothing'}). Install a JDK {MIN_JAVA}+ and set "
        "ES_JAVA_HOME to its directory."
    )


def compiler_homes(java_home: Path, env: Mapping[str, str], jvm_dir: Path = JVM_DIR) -> list[Path]:
    """JDKs 21+ to compile the analysis plugin with: the node's first, then the others."""
    named = [Path(env[var]) for var in ("ES_JAVA_HOME", "JAVA_HOME") if env.get(var)]
    installed = sorted(jvm_dir.iterdir()) if jvm_dir.is_dir() else []
    homes = [java_home, *named, *installed]
    usable = [home for home in homes if (_jdk_major(home) or 0) >= MIN_JAVA]
    return list(dict.fromkeys(usable))


def render_elasticsearch_yml(settings: Settings, paths: NodePaths) -> str:
    config: dict[str, Any] = {
        "cluster.name": CLUSTER_NAME,
        "node.name": f"{CLUSTER_NAME}-local",
        "network.host": "127.0.0.1",
        "http.port": settings.es_port,
        "transport.port": transport_port(settings.es_port),
        "discovery.type": "single-node",
        "path.data": str(paths.data),
        "path.logs": str(paths.logs),
        "xpack.security.enabled": True,
        "xpack.security.http.ssl.enabled": False,
        "xpack.security.transport.ssl.enabled": False,
        # A developer's nearly full disk would otherwise make every index read-only, and a
        # single-node dev cluster has nowhere else to move shards to anyway.
        "cluster.routing.allocation.disk.threshold_enabled": False,
    }
    header = "# Written by news_ingest.local.localnode on every start; edits here are lost.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def transport_port(http_port: int) -> int:
    # Distinct from the HTTP port, and 9300 for the default 9200 as everyone expects.
    return http_port + 100


def heap_options(heap: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[kKmMgG]?", heap):
        raise LocalNodeError(f"NEWS_INGEST_ES_HEAP={heap!r}: expected a JVM size like 512m or 1g")
    return f"-Xms{heap}\n-Xmx{heap}\n"


def untraversable(path: Path) -> list[Path]:
    """``path`` and its parents that users other than their owner cannot enter."""
    return [p for p in (path, *path.parents) if not os.stat(p).st_mode & stat.S_IXOTH]


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:])


def error_lines(log_text: str, limit: int = 10) -> list[str]:
    """The lines that say why a start failed, without the stack frames between them."""
    wanted = re.compile(r"\]\[(ERROR|FATAL)\s*\]|^Caused by: |^ERROR: |^Exception in thread ")
    found = [line for line in log_text.splitlines() if wanted.search(line)]
    return list(dict.fromkeys(found))[-limit:]


def unpack(zip_path: Path, dest_dir: Path) -> Path:
    """Unpack once; the top-level directory appears only when it is complete."""
    with zipfile.ZipFile(zip_path) as archive:
        top = archive.namelist()[0].split("/")[0]
        target = dest_dir / top
        if target.is_dir():
            return target
        dest_dir.mkdir(parents=True, exist_ok=True)
        for leftover in dest_dir.glob(".unpack-*"):
            shutil.rmtree(leftover)  # an earlier unpack that died half-way
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest_dir))
        for info in archive.infolist():
            extracted = Path(archive.extract(info, staging))
            # zipfile drops Unix modes; the node's user (not us) must read and run these.
            executable = info.is_dir() or (info.external_attr >> 16) & 0o111
            extracted.chmod(0o755 if executable else 0o644)
        staging.chmod(0o755)
        (staging / top).rename(target)
        staging.rmdir()
    return target


# --- credentials --------------------------------------------------------------------------


def _read_credentials(path: Path) -> tuple[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["user"]), str(data["password"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ensure_credentials(paths: NodePaths) -> tuple[str, bool]:
    """(the elastic password, whether it is new): the stored one, or one stored now."""
    existing = _read_credentials(paths.credentials)
    if existing:
        return existing[1], False
    password = secrets.token_urlsafe(24)
    body = json.dumps({"user": ES_USER, "password": password}, indent=2) + "\n"
    partial = paths.credentials.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    # Created 0600 from the start: the password is never readable by others, not even briefly.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body)
    partial.replace(paths.credentials)
    return password, True


def _write_file_realm(settings: Settings, paths: NodePaths, account: Account | None) -> None:
    """roles.yml from roles.json, and one file-realm user per role; idempotent.

    The native realm needs the .security index, which this distribution cannot create, so
    the roles and their users live in the file realm (config/roles.yml, users, users_roles),
    which the node re-reads within seconds. Passwords are random, kept 0600 beside
    credentials.json; the role's index pattern follows NEWS_INGEST_INDEX_PREFIX at start.
    """
    roles = load_roles(settings.index_prefix)
    stored = role_users(settings).get("users", {})
    users = {
        role: stored.get(role) or {"user": role, "password": secrets.token_urlsafe(24)}
        for role in roles
    }
    record = {"index_pattern": f"{settings.index_prefix}-*", "users": users}
    _write_private(paths.role_users, json.dumps(record, indent=2) + "\n")
    header = "# Written by news_ingest.local.localnode from include/elasticsearch/roles.json.\n"
    _write_if_changed(paths.config / "roles.yml", header + yaml.safe_dump(roles), account)
    old_hashes = dict(
        line.split(":", 1) for line in _read_lines(paths.config / "users") if ":" in line
    )
    lines = []
    for entry in users.values():
        old = old_hashes.get(entry["user"], "")
        hashed = old if pbkdf2_matches(entry["password"], old) else pbkdf2_hash(entry["password"])
        lines.append(f"{entry['user']}:{hashed}")
    _write_if_changed(paths.config / "users", "".join(f"{line}\n" for line in lines), account)
    user_roles = "".join(f"{role}:{entry['user']}\n" for role, entry in users.items())
    _write_if_changed(paths.config / "users_roles", user_roles, account)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text("utf-8").splitlines()
    except OSError:
        return []


def _write_if_changed(path: Path, text: str, account: Account | None) -> None:
    with contextlib.suppress(OSError):
        if path.read_text("utf-8") == text:
            return
    _write_owned(path, text, account)


def _write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically (it holds passwords)."""
    partial = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    partial.replace(path)


# --- setting up and launching ----------------------------------------------------------------


@dataclass(frozen=True)
class _Launcher:
    home: Path
    account: Account | None
    env: dict[str, str]


def _prepare(settings: Settings, paths: NodePaths, password: str, new_password: bool) -> _Launcher:
    """Everything before the launch: JDK, distribution, user, directories, config."""
    java_home = find_java_home(os.environ)
    account = _node_account() if os.geteuid() == 0 else None
    home = _install_distribution(paths)
    try:
        analysis_plugin.install(
            home,
            paths.plugin_build,
            paths.version,
            compiler_homes(java_home, os.environ),
            lambda: _maven_copy(analysis_plugin.ECJ_ARTIFACT, paths.cache),
            _node_env(java_home, paths),
        )
    except analysis_plugin.PluginBuildError as exc:
        raise LocalNodeError(str(exc)) from None
    if account:
        blocked = sorted(set(untraversable(home) + untraversable(java_home)))
        if blocked:
            raise LocalNodeError(
                f"user {account.name} cannot enter {', '.join(map(str, blocked))}; run "
                "`chmod o+x` on them or set NEWS_INGEST_STATE_DIR to a directory under /var/lib"
            )
    shutil.rmtree(paths.tmp, ignore_errors=True)  # the last run's scratch files
    for directory in (paths.data, paths.logs, paths.run, paths.tmp):
        _make_owned_dir(directory, account)
    launcher = _Launcher(home=home, account=account, env=_node_env(java_home, paths))
    _write_config(settings, paths, launcher, password, new_password)
    return launcher


def _launch(launcher: _Launcher, paths: NodePaths, deadline: float) -> None:
    """Run ``bin/elasticsearch -d``: it returns once the node is up or has failed."""
    command = [str(launcher.home / "bin" / "elasticsearch"), "-d", "-p", str(paths.pid_file)]
    # Output goes to a file, not a pipe: the daemonized node must not hold a pipe of ours.
    with paths.launcher_log.open("w", encoding="utf-8") as out:
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=launcher.env,
                cwd=launcher.home,
                check=False,
                timeout=max(deadline - time.monotonic(), 1),
                # Its own session, so a Ctrl-C in the shell that ran `es start` spares the node.
                start_new_session=True,
                **_as_user(launcher.account),
            )
        except subprocess.TimeoutExpired:
            raise _start_failed(paths, "the launcher did not return in time") from None
    if result.returncode != 0:
        raise _start_failed(paths, f"the launcher exited with {result.returncode}")


def _install_distribution(paths: NodePaths) -> Path:
    if paths.home.is_dir():
        return paths.home
    return unpack(_maven_copy(ARTIFACT.format(version=paths.version), paths.cache), paths.dist)


def _maven_copy(artifact: str, cache: Path) -> Path:
    """``group:name:version:type`` from Maven into ``cache`` (once); returns the file."""
    _, name, version, kind = artifact.split(":")
    wanted = cache / f"{name}-{version}.{kind}"
    if wanted.is_file():
        return wanted
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalNodeError(f"mvn (Maven) is needed to fetch {artifact}: apt-get install maven")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache) as staging:
        command = [
            mvn,
            "--batch-mode",
            "--quiet",
            f"{DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        fetched = Path(staging) / wanted.name
        if result.returncode != 0 or not fetched.is_file():
            output = "\n".join((result.stdout + result.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise LocalNodeError(
                f"could not fetch {artifact} with Maven:\n{output}\ncommand: {' '.join(command)}"
            )
        # Renamed into place only when complete, so a cut download is never mistaken for one.
        fetched.replace(wanted)
    return wanted


def _node_account() -> Account:
    """The system user the node runs as when we are root; created on first use."""
    if not _user_exists(NODE_ACCOUNT):
        # A group left behind by an earlier userdel would make --user-group fail.
        group = ["--gid", NODE_ACCOUNT] if _group_exists(NODE_ACCOUNT) else ["--user-group"]
        command = ["useradd", "--system", *group, "--no-create-home", "--home-dir", "/nonexistent"]
        command += ["--shell", "/usr/sbin/nologin", NODE_ACCOUNT]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise LocalNodeError(f"could not create user {NODE_ACCOUNT}: {result.stderr.strip()}")
    entry = pwd.getpwnam(NODE_ACCOUNT)
    return Account(name=NODE_ACCOUNT, uid=entry.pw_uid, gid=entry.pw_gid)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _node_env(java_home: Path, paths: NodePaths) -> dict[str, str]:
    env = {**os.environ, "ES_JAVA_HOME": str(java_home), "ES_PATH_CONF": str(paths.config)}
    # The launcher warns about JAVA_HOME and ignores it; it uses ES_JAVA_HOME.
    env.pop("JAVA_HOME", None)
    # Scratch files of the node and of its launcher would otherwise pile up in /tmp, one
    # directory per start.
    env["ES_TMPDIR"] = str(paths.tmp)
    cli_opts = f"{env.get('CLI_JAVA_OPTS', '')} -Djava.io.tmpdir={paths.tmp}"
    env["CLI_JAVA_OPTS"] = cli_opts.strip()
    return env


def _make_owned_dir(path: Path, account: Account | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if account and path.stat().st_uid != account.uid:
        _chown_tree(path, account)


def _chown_tree(path: Path, account: Account) -> None:
    os.chown(path, account.uid, account.gid)
    for parent, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), account.uid, account.gid, follow_symlinks=False)


def _write_config(
    settings: Settings, paths: NodePaths, launcher: _Launcher, password: str, new_password: bool
) -> None:
    """Our ES_PATH_CONF: the distribution's files plus our settings, heap and keystore."""
    account = launcher.account
    if not paths.config.is_dir():
        # Built aside and renamed, so a config dir that exists is a complete one.
        staging = paths.root / ".config-new"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(launcher.home / "config", staging)
        (staging / "jvm.options.d").mkdir(exist_ok=True)
        if account:
            _chown_tree(staging, account)
        staging.rename(paths.config)
    yml = render_elasticsearch_yml(settings, paths)
    _write_owned(paths.config / "elasticsearch.yml", yml, account)
    _write_file_realm(settings, paths, account)
    heap = heap_options(settings.es_heap)
    _write_owned(paths.config / "jvm.options.d" / "heap.options", heap, account)
    if new_password or not (paths.config / "elasticsearch.keystore").exists():
        # --force also creates the keystore when there is none yet.
        tool = str(launcher.home / "bin" / "elasticsearch-keystore")
        _run_tool(launcher, [tool, "add", "--stdin", "--force", "bootstrap.password"], password)


def _write_owned(path: Path, text: str, account: Account | None) -> None:
    path.write_text(text, encoding="utf-8")
    if account:
        os.chown(path, account.uid, account.gid)


def _run_tool(launcher: _Launcher, command: list[str], stdin: str = "") -> None:
    result = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        env=launcher.env,
        cwd=launcher.home,
        check=False,
        timeout=120,
        **_as_user(launcher.account),
    )
    if result.returncode != 0:
        raise LocalNodeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _as_user(account: Account | None) -> dict[str, Any]:
    if account is None:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


def _wait_until_ready(settings: Settings, paths: NodePaths, password: str, deadline: float) -> None:
    last = "no answer yet"
    with _client(node_url(settings), (ES_USER, password)) as client:
        while time.monotonic() < deadline:
            try:
                params = {"wait_for_status": "yellow", "timeout": "5s"}
                response = client.get("/_cluster/health", params=params, timeout=15)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if _live_pid(paths.pid_file) is None:
                raise _start_failed(paths, f"the node process is gone ({last})")
            time.sleep(1)
    raise _start_failed(paths, f"not ready before the timeout ({last})")


def _start_failed(paths: NodePaths, reason: str) -> LocalNodeError:
    # The launcher output holds this attempt only; the log file may hold earlier ones too.
    causes = "\n".join(error_lines(tail(paths.launcher_log, 10_000))) or "(none logged)"
    return LocalNodeError(
        f"Elasticsearch did not start: {reason}.\n"
        f"--- errors from this attempt ({paths.launcher_log}) ---\n{causes}\n"
        f"--- last {LOG_TAIL_LINES} lines of {paths.log_file} ---\n{tail(paths.log_file)}\n"
        f"Look further with: less +G {paths.log_file}\n"
        "(a node still starting is stopped with: news-ingest es stop)"
    )


# --- talking to the node and its process ------------------------------------------------


def _client(url: str, auth: tuple[str, str] | None) -> httpx.Client:
    # trust_env=False: a proxy set in the environment must never see loopback traffic.
    return httpx.Client(base_url=url, auth=auth, timeout=5, trust_env=False)


def _node_info(
    url: str, auth: tuple[str, str] | None
) -> tuple[str | None, str, tuple[str, ...], tuple[str, ...]]:
    """(version, health, modules, plugins); raises httpx errors when the node does not say."""
    with _client(url, auth) as client:
        health = client.get("/_cluster/health").raise_for_status().json()
        # No rest-root module in this distribution, so GET / is unavailable: ask _nodes.
        nodes = client.get("/_nodes/_local/plugins").raise_for_status().json()
    node: dict[str, Any] = next(iter(nodes["nodes"].values()), {})
    modules = tuple(sorted(module["name"] for module in node.get("modules", [])))
    plugins = tuple(sorted(plugin["name"] for plugin in node.get("plugins", [])))
    return node.get("version"), str(health["status"]), modules, plugins


def _live_pid(pid_file: Path) -> int | None:
    """The node's pid from its pid file, if that process is alive and is Elasticsearch."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_elasticsearch(pid) else None


def _is_elasticsearch(pid: int) -> bool:
    # The pid file can outlive the node (a crash, a reboot) and its number be reused by
    # any other process, which stop() must never signal.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return b"org.elasticsearch" in cmdline and state != "Z"


def _wait_for_exit(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _is_elasticsearch(pid):
            return True
        time.sleep(0.5)
    return not _is_elasticsearch(pid)


@contextlib.contextmanager
def _locked(paths: NodePaths) -> Iterator[None]:
    """One start at a time per state dir (make test and a developer's shell may race)."""
    with (paths.root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _jdk_major(home: Path) -> int | None:
    try:
        release = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return java_major(release) if (home / "bin" / "java").exists() else None
