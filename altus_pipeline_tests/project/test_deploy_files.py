"""The deployment files in deploy/ name only what exists, document what they need, and agree.

No process is started: the compose file and the Helm values are parsed, every command,
module, image and environment variable they name is looked up in the project and its
documentation, and the policies the Helm chart writes are held to deploy/dagster.yaml,
the instance test_production_topology.py runs.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
import tomllib
from pathlib import Path, PurePosixPath

import yaml

from altus_pipeline import instance
from altus_pipeline_tests.conftest import REPO
from altus_pipeline_tests.dagster.test_production_topology import COMPOSE, CONTAINER_WORKSPACE, DEPLOY
from altus_pipeline_tests.support.dagster_gql import LOCATION

DOCKERFILE = DEPLOY / "Dockerfile"
HELM = DEPLOY / "helm" / "values.yaml"
ENV_EXAMPLE = DEPLOY / "altus.env.example"
SERVICES = ("altus", "code", "webserver", "daemon")  # the services running the project's image
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _helm() -> dict:
    return yaml.safe_load(HELM.read_text())


def _documentation() -> str:
    return (REPO / "docs" / "operations.md").read_text() + (REPO / "README.md").read_text()


def _project_source() -> str:
    return "\n".join(p.read_text() for p in (REPO / "altus_pipeline").rglob("*.py"))


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def _snake(value: object) -> object:
    """Helm's camelCase keys as dagster.yaml's snake_case ones."""
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def test_compose_mounts_the_tested_instance_and_workspace():
    compose = _compose()
    for name in SERVICES:
        service = compose["services"][name]
        mounts = {}
        for volume in service["volumes"]:
            source, target = volume.split(":")[:2]
            mounts[target] = (COMPOSE.parent / source).resolve() if source.startswith(".") else source
        home = service["environment"]["DAGSTER_HOME"]
        if name != "altus":  # `altus` keeps a home of its own, never the production file
            assert mounts[str(PurePosixPath(home) / "dagster.yaml")] == DEPLOY / "dagster.yaml", name
        assert mounts[CONTAINER_WORKSPACE] == DEPLOY / "workspace.yaml", name
    assert (
        compose["services"]["altus"]["environment"]["DAGSTER_HOME"]
        != compose["services"]["code"]["environment"]["DAGSTER_HOME"]
    )
    for name in ("webserver", "daemon"):
        command = compose["services"][name]["command"]
        assert command[command.index("-w") + 1] == CONTAINER_WORKSPACE, name


def test_every_command_and_module_exists():
    compose = _compose()
    location = LOCATION["repositoryLocationName"]
    assert PYPROJECT["tool"]["dagster"]["code_location_name"] == location
    module = PYPROJECT["tool"]["dagster"]["module_name"]
    code = compose["services"]["code"]["command"]
    assert code[code.index("-m") + 1] == module and code[code.index("--location-name") + 1] == location
    assert importlib.util.find_spec(module) is not None
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["location_name"] == location
    port = code[code.index("-p") + 1]
    assert compose["services"]["code"]["healthcheck"]["test"][-2:] == ["-p", port]
    assert compose["services"]["code"]["environment"]["ALTUS_CODE_SERVER_PORT"] == port
    bin_dir = Path(sys.executable).parent
    executables = [
        compose["services"][name].get("entrypoint", compose["services"][name].get("command"))[0] for name in SERVICES
    ]
    executables.append(compose["services"]["code"]["healthcheck"]["test"][1])
    for executable in executables:
        assert (bin_dir / executable).is_file(), executable
    # The image's default command is the compose code server's.
    (cmd,) = [yaml.safe_load(args) for kind, args in _dockerfile_instructions() if kind == "CMD"]
    assert cmd == code
    # Helm's code server serves the same module.
    (deployment,) = _helm()["dagster-user-deployments"]["deployments"]
    args = deployment["codeServerArgs"]
    assert args[args.index("-m") + 1] == module and str(deployment["port"]) == port
    # Every class the production instance names can be loaded, as Dagster loads it.
    from dagster._serdes.config_class import ConfigurableClassData, class_from_code_pointer

    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    for section in (config["storage"]["custom"], config["compute_logs"], config["run_coordinator"]):
        named = ConfigurableClassData(section["module"], section["class"], "{}")  # maps dagster.core to dagster._core
        assert class_from_code_pointer(named.module_name, named.class_name).__name__ == section["class"]


def test_the_production_instance_is_valid_dagster_configuration(tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False
    assert config["telemetry"] == {"enabled": False}


def test_the_image_installs_the_pinned_dagster_and_the_files_the_package_reads():
    instructions = _dockerfile_instructions()
    runs = " ".join(args for kind, args in instructions if kind == "RUN")
    pinned = {
        d
        for d in PYPROJECT["project"]["dependencies"]
        if d.split("==")[0] in ("dagster", "dagster-webserver", "dagster-postgres")
    }
    words = shlex.split(runs)
    assert len(pinned) == 3 and all(pin in words for pin in pinned), (pinned, runs)
    assert not {"-e", "--editable"} & set(words), runs  # installed, not run from a checkout
    copied = [args.split() for kind, args in instructions if kind == "COPY" and not args.startswith("--from")]
    sources = {source for *group, _ in copied for source in group}
    # The wheel is built from the files pyproject.toml declares as package data: each is in the build context.
    declared = PYPROJECT["tool"]["setuptools"]["package-data"]["altus_pipeline.project_data"]
    data = {pattern.split("/*")[0] for pattern in declared}
    assert data <= sources, data - sources
    # The production instance is the file compose mounts and the topology test runs.
    env = dict(re.findall(r"(\w+)=(\S+)", next(args for kind, args in instructions if kind == "ENV")))
    assert ["deploy/dagster.yaml", f"{env['DAGSTER_HOME']}/dagster.yaml"] in copied
    assert ["deploy/workspace.yaml", CONTAINER_WORKSPACE] in copied
    # The build context keeps what the image copies and nothing else.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert sources <= kept, sources - kept


def test_images_are_the_projects_and_postgres_is_new_enough():
    compose = _compose()
    build = compose["services"]["code"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    images = {compose["services"][name]["image"] for name in SERVICES}
    assert len(images) == 1 and images.pop().startswith("altus-pipeline:")
    helm = _helm()
    for image in (
        helm["dagsterWebserver"]["image"],
        helm["dagsterDaemon"]["image"],
        helm["dagster-user-deployments"]["deployments"][0]["image"],
    ):
        assert image["repository"].endswith("/altus-pipeline")
    repository, tag = compose["services"]["postgres"]["image"].split(":")
    assert repository == "postgres" and int(tag) >= 15  # the oldest the README supports


def test_every_environment_variable_is_used_and_documented():
    compose = _compose()
    helm = _helm()
    source = _project_source()
    settings_read = set(instance.EVENT_SETTINGS) | set(re.findall(r"\b(?:ALTUS|DOORLOOP|DAGSTER)_[A-Z_]+\b", source))
    workspace_reads = set(re.findall(r"env: (\w+)", (DEPLOY / "workspace.yaml").read_text()))
    interpolated = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    set_for_services = {k for name in SERVICES for k in compose["services"][name]["environment"]}
    helm_env = set()
    for part in (helm["dagsterWebserver"], helm["dagsterDaemon"], *helm["dagster-user-deployments"]["deployments"]):
        env = part["env"]
        helm_env |= set(env) if isinstance(env, dict) else {e["name"] for e in env}
    example = set(re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    # What the services are given, the project or the workspace reads.
    unused = (set_for_services | helm_env) - settings_read - workspace_reads
    assert not unused, unused
    # What the example sets, compose reads; what compose reads, the example names.
    assert example == interpolated, example ^ interpolated
    documented = _documentation()
    missing = {v for v in set_for_services | helm_env | interpolated | workspace_reads if v not in documented}
    assert not missing, missing
    # A secret is never written into a values file or the example.
    for secret in ("DOORLOOP_API_TOKEN", "ALTUS_DATABASE_URL"):
        assert secret not in helm_env
    assert re.search(r"^DOORLOOP_API_TOKEN=$", ENV_EXAMPLE.read_text(), re.MULTILINE)


def test_helm_values_set_the_policies_of_the_tested_instance():
    instance_config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    daemon = _helm()["dagsterDaemon"]
    queued = _snake(daemon["runCoordinator"]["config"]["queuedRunCoordinator"])
    assert daemon["runCoordinator"]["type"] == instance_config["run_coordinator"]["class"]
    assert queued == {**instance_config["concurrency"]["runs"], **instance_config["run_coordinator"]["config"]}
    assert _snake(daemon["runMonitoring"]) == instance_config["run_monitoring"]
    assert _snake(daemon["runRetries"]) == instance_config["run_retries"]
    helm = _helm()
    assert _snake(helm["concurrency"]["pools"]) == instance_config["concurrency"]["pools"]
    retention = _snake({k: v for k, v in helm["retention"].items() if k != "enabled"})
    assert retention == instance_config["retention"]
    assert helm["telemetry"] == instance_config["telemetry"]
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm["postgresql"]["enabled"] is False and helm["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
