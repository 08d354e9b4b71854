"""The deployment files, offline: the image's build file, the compose stack and the Kubernetes manifests.

Validators from PyPI that bundle their schemas: check-jsonschema (the compose specification),
kubernetes-validate (the Kubernetes API schemas, strict: unknown fields are errors) and hadolint.
kustomize is not on PyPI as a binary, so `render` below builds a kustomization itself, with the few
kustomize features these files use (resources, components, strategic-merge patches by file,
`$patch: delete`, images, replicas, namespace); it refuses any other field, so a kustomization
cannot grow a feature this test would silently ignore. Beyond the schemas, the checks an operator
would notice: no secret committed, every variable the service is given exists in its settings,
probes and scrape ports on the contract's ports, the grace period above the graceful shutdown,
a non-root image, and the search attributes the stack registers equal the workflows' own.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import typing
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from service.devserver import temporal_cli
from service.settings import Settings
from tests.loopback import free_port
from tests.paths import ROOT
from workflows import search_attributes as sa

REPO = ROOT
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
K8S = REPO / "deploy" / "kubernetes"
OVERLAYS = {name: K8S / "overlays" / name for name in ("example", "temporal-cloud")}
KEDA = K8S / "components" / "keda"
SPOORWERK_SERVICES = ("worker", "api")

# Variables that hold secrets: in the repository only as `${VAR:?…}`, pass-through or secretRef.
SECRET_NAME = re.compile(r"(ENCRYPTION_KEYS|TOKENS|PASSWORD|PASSWD|PWD|SECRET|SECRET_ACCESS_KEY|API_KEY)$")
# Read by libraries, not by service/settings.py: OpenTelemetry's and the AWS SDK's standard variables.
LIBRARY_ENV = ("OTEL_", "AWS_")


def tool(name: str) -> str:
    """An executable of the test extras, beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"`{name}` is missing: install the test extras (pip install -e '.[test]')"
    return found


def settings_env_names() -> set[str]:
    """Every environment variable service/settings.py reads, aliases included."""
    names = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"SPOORWERK_{field_name}".upper())
    return names


def known_to_service(name: str) -> bool:
    return name in settings_env_names() or name.startswith(LIBRARY_ENV)


def roles() -> set[str]:
    """The roles `spoorwerk-service <role>` accepts."""
    return set(typing.get_args(Settings.model_fields["role"].annotation))


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No Spoorwerk, Temporal or OTel variable of the test process leaks into a Settings() built here."""
    for name in list(os.environ):
        if name.startswith(("SPOORWERK_", "TEMPORAL_", "OTEL_")):
            monkeypatch.delenv(name)
    return monkeypatch


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


# ================================================================== the image


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions per stage, as (INSTRUCTION, arguments), continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), args.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def test_dockerfile_passes_hadolint(tmp_path: Path):
    hadolint = tool("hadolint")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # The linter really lints: an unpinned base image and a `cd` in RUN are findings.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /tmp && pip install requests\n")
    result = subprocess.run([hadolint, str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3006" in result.stdout and "DL3013" in result.stdout, result.stdout


def test_image_runs_as_a_numeric_non_root_user_that_owns_the_data_dir():
    stage = final_stage()
    users = [args for instr, args in stage if instr == "USER"]
    assert users, "the final stage sets no USER: the container would run as root"
    uid, _, gid = users[-1].partition(":")
    # Numeric, or Kubernetes cannot verify runAsNonRoot and refuses the pod.
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit()), users[-1]
    runs = " ".join(args for instr, args in stage if instr == "RUN")
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args for instr, args in stage if instr == "ENV")))
    assert f"chown {uid}:" in runs and env["SPOORWERK_DATA_DIR"] in runs, "the data dir is not the user's"
    # The pods run as that user too, so the image's /data ownership and fsGroup agree.
    for overlay in OVERLAYS.values():
        for pod in pod_specs(render(overlay)).values():
            assert pod["securityContext"]["runAsUser"] == int(uid)


def test_image_installs_every_package_and_keeps_secrets_out_of_the_build_context():
    build = dockerfile_stages()[0]
    copied = {src.rstrip("/") for instr, args in build if instr == "COPY" for src in args.split()[:-1]}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    setuptools_cfg = project["tool"]["setuptools"]
    needed = {
        "pyproject.toml",
        project["project"]["readme"],
        *setuptools_cfg["packages"],
        *(f"{module}.py" for module in setuptools_cfg["py-modules"]),
    }
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    for src in copied:
        inside = src if "." in Path(src).name else f"{src}/__init__.py"
        assert not dockerignored(inside), f".dockerignore drops {inside}, which the Dockerfile copies"
    # The embedded default's key and token, local env files, the venv and git stay out of the image.
    for secret in (
        "data/encryption-keys.json",
        "data/api-token",
        "deploy/compose/.env",
        ".env",
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "domain/__pycache__/case.cpython-311.pyc",
    ):
        assert dockerignored(secret), f"{secret} would be sent to the image build"


def test_the_installed_project_holds_every_module_and_file_the_service_uses():
    """A package or template left out of pyproject's lists is missing from the (non-editable) image."""
    # ...and the container dies at start with ModuleNotFoundError, as a scratch install showed.
    setuptools_cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(setuptools_cfg["packages"])
    local = {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"}
    sources = [REPO / f"{module}.py" for module in setuptools_cfg["py-modules"]]
    reached: set[str] = set()
    while sources:
        text = sources.pop().read_text()
        for name in set(re.findall(r"^\s*(?:from|import)\s+(\w+)", text, re.M)) & local - reached:
            reached.add(name)
            sources += sorted((REPO / name).rglob("*.py"))
    assert reached - packages == set(), f"imported but not in [tool.setuptools] packages: {sorted(reached - packages)}"
    package_data = setuptools_cfg.get("package-data", {})
    for package in sorted(packages):
        for file in sorted((REPO / package).rglob("*")):
            if file.is_file() and file.suffix not in (".py", ".pyc") and "__pycache__" not in file.parts:
                relative = file.relative_to(REPO / package).as_posix()
                assert any(fnmatch(relative, pattern) for pattern in package_data.get(package, [])), (
                    f"{package}/{relative} is not in [tool.setuptools.package-data]: the image would lack it"
                )


def dockerignored(path: str) -> bool:
    """Docker's .dockerignore rule for one path: the last matching pattern (or `!` exception) wins."""
    ignored = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch(prefix, pattern) or (pattern.startswith("**/") and fnmatch(prefix.split("/")[-1], pattern[3:]))
            for prefix in prefixes
        ):
            ignored = not negate
    return ignored


def test_image_defaults_follow_the_runtime_contract():
    stage = final_stage()
    cmd = json.loads(next(args for instr, args in reversed(stage) if instr == "CMD"))
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert cmd[0] in scripts and scripts[cmd[0]] == "worker:main"
    assert cmd[1:] == ["worker"], "the image's default role is the worker"
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args for instr, args in stage if instr == "ENV")))
    exposed = {int(p) for instr, args in stage if instr == "EXPOSE" for p in args.split()}
    assert {
        int(env["SPOORWERK_API_PORT"]),
        port_of(env["SPOORWERK_HEALTH_ADDRESS"]),
        port_of(env["SPOORWERK_METRICS_ADDRESS"]),
    } == exposed
    assert env["SPOORWERK_API_HOST"] == "0.0.0.0" and env["SPOORWERK_LOG_FORMAT"] == "json"
    assert all(known_to_service(name) for name in env if name.startswith(("SPOORWERK_", "TEMPORAL_")))
    assert not [name for name in env if SECRET_NAME.search(name)], "a secret baked into the image"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _serve(status: int) -> tuple[ThreadingHTTPServer, int]:
    handler = type("Handler", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_image_healthcheck_answers_for_the_worker_and_for_the_api_role():
    cmd = json.loads(next(args for instr, args in final_stage() if instr == "HEALTHCHECK").split(" CMD ", 1)[1])
    assert cmd[:2] == ["python", "-c"]

    def check(health_port: int, api_port: int) -> int:
        env = {**os.environ, "SPOORWERK_HEALTH_ADDRESS": f"0.0.0.0:{health_port}", "SPOORWERK_API_PORT": str(api_port)}
        return subprocess.run([sys.executable, "-c", cmd[2]], env=env, timeout=30).returncode

    ok, ok_port = _serve(200)
    failing, failing_port = _serve(503)
    try:
        nothing = free_port()
        assert check(ok_port, nothing) == 0  # the worker role: health port
        assert check(free_port(), ok_port) == 0  # the api role: nothing on the health port, the API answers
        assert check(nothing, free_port()) == 1  # neither listens
        assert check(failing_port, nothing) == 1  # a health endpoint that is not 200
    finally:
        ok.shutdown()
        failing.shutdown()


# ================================================================== the compose stack

INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $$."""

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name)
        empty = value is None or (value == "" and op and op.startswith(":"))
        if op and op.endswith("?") and empty:
            raise MissingVariable(f"{name}: {arg}")
        if op and op.endswith("-") and empty:
            return arg
        return value or ""

    return INTERPOLATION.sub(one, text)


def compose_variables() -> set[str]:
    """The variables compose.yaml interpolates, and those it passes on to Spoorwerk without a value."""
    text = COMPOSE.read_text()
    used = {m.group(1) for m in INTERPOLATION.finditer(text) if m.group(1)}
    raw = yaml.safe_load(text)
    for service in SPOORWERK_SERVICES:
        used |= {name for name, value in raw["services"][service]["environment"].items() if value is None}
    return used


def read_env_file(path: Path, *, uncomment: bool = False) -> dict[str, str]:
    """A .env file as compose reads it (single quotes literal); `uncomment`: also `# VAR=value` lines."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if uncomment:
            line = re.sub(r"^#\s*(?=[A-Z][A-Z0-9_]*=)", "", line)
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not m:
            continue
        value = m.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)
        env[m.group(1)] = value
    return env


def env_example_names() -> set[str]:
    """Every variable .env.example lists, set or commented out."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.M))


SECRETS = {
    "POSTGRES_PASSWORD": "a-long-random-password",
    "SPOORWERK_ENCRYPTION_KEYS": '{"2026-11": "' + "A" * 43 + '="}',
    "SPOORWERK_MEDICAL_KEYS": '{"2026-11": "' + "B" * 43 + '="}',
    "SPOORWERK_SEARCH_KEY": "C" * 43,
    "SPOORWERK_API_TOKENS": '{"tok-1": {"role": "operations", "id": "ops-1"}}',
}


def _interpolate_values(node, env: dict[str, str]):
    # Compose interpolates the parsed file's values, so a JSON value stays one string.
    if isinstance(node, dict):
        return {key: _interpolate_values(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate_values(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


def rendered_compose(env: dict[str, str]) -> dict:
    """compose.yaml after interpolation with `env`, pass-through variables resolved from it."""
    doc = _interpolate_values(yaml.safe_load(COMPOSE.read_text()), env)
    for service in SPOORWERK_SERVICES:
        environment = doc["services"][service]["environment"]
        for name, value in list(environment.items()):
            if value is None:
                if env.get(name) is None:
                    del environment[name]  # compose leaves a variable without a value unset
                else:
                    environment[name] = env[name]
    return doc


def test_compose_file_validates_against_the_compose_specification(tmp_path: Path):
    check = tool("check-jsonschema")
    result = subprocess.run(
        [check, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema is really applied: a misspelt service key is refused.
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("    stop_grace_period: 30s", "    stop_grace_periode: 30s", 1))
    result = subprocess.run(
        [check, "--builtin-schema", "vendor.compose-spec", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "stop_grace_periode" in result.stdout, result.stdout


def test_compose_refuses_to_start_without_each_secret():
    example = read_env_file(ENV_EXAMPLE)
    assert all(example.get(name) == "" for name in SECRETS), ".env.example must leave the secrets empty"
    for missing in SECRETS:
        env = {**example, **SECRETS}
        env[missing] = ""
        with pytest.raises(MissingVariable, match=missing):
            rendered_compose(env)
    rendered_compose({**example, **SECRETS})  # all set: it starts


def test_env_example_lists_exactly_the_variables_compose_reads():
    used, listed = compose_variables(), env_example_names()
    assert used - listed == set(), f"read by compose.yaml but not in .env.example: {sorted(used - listed)}"
    assert listed - used == set(), f"in .env.example but unused by compose.yaml: {sorted(listed - used)}"


def test_no_secret_value_is_committed_in_the_compose_files():
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in raw["services"].items():
        for var, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(var):
                # Required ones refuse to start when unset; optional ones pass through from .env.
                assert value is None or re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), f"{name}: {var}={value!r}"
    for var, value in read_env_file(ENV_EXAMPLE, uncomment=True).items():
        if SECRET_NAME.search(var):
            assert value == "", f".env.example holds a value for {var}"


@pytest.mark.parametrize("optional", [False, True], ids=["as-shipped", "every-optional-line-uncommented"])
def test_compose_gives_both_roles_a_configuration_the_service_accepts(optional: bool, clean_env):
    env = {**read_env_file(ENV_EXAMPLE, uncomment=optional), **SECRETS}
    doc = rendered_compose(env)
    services = doc["services"]
    for role in SPOORWERK_SERVICES:
        service = services[role]
        environment = {k: str(v) for k, v in service["environment"].items()}
        unknown = [name for name in environment if not known_to_service(name)]
        assert not unknown, f"{role}: not read by the service (typo?): {unknown}"
        assert service["command"][0] == "spoorwerk-service" and service["command"][1] in roles()
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        with pytest.MonkeyPatch.context() as mp:
            settings = settings_from(environment, mp)
        assert not settings.embedded and settings.metrics_address
        assert settings.data_dir == Path("/data") and any(v.endswith(":/data") for v in service["volumes"])
        # Running notifications finish before compose's SIGKILL.
        assert float(service["stop_grace_period"].removesuffix("s")) > settings.graceful_shutdown_seconds
        probe = " ".join(service["healthcheck"]["test"])
        if role == "worker":
            assert settings.health_address, "the worker's health endpoints need an address its probe can name"
            port = port_of(settings.health_address)
        else:
            port = settings.api_port
        assert f"127.0.0.1:{port}/readyz" in probe
        if role == "api":
            assert settings.api_host == "0.0.0.0" and settings.api_tokens
            assert any(p.endswith(f":{settings.api_port}") for p in service["ports"])
            # The Web UI's codec endpoint is this API's /codec, and only the UI's origin may call it.
            ui = services["temporal-ui"]["environment"]
            assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith(f":{settings.api_port}/codec")
            ui_port = services["temporal-ui"]["ports"][0].split(":")[-2]
            assert settings.codec_cors_origins == [f"http://localhost:{ui_port}"]
        if optional:
            assert settings.webhook_url and settings.smtp_host and settings.notify_default_recipients


def test_prometheus_scrapes_both_roles_on_their_metrics_port():
    doc = rendered_compose({**read_env_file(ENV_EXAMPLE), **SECRETS})
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    for role in SPOORWERK_SERVICES:
        assert f"{role}:{port_of(doc['services'][role]['environment']['SPOORWERK_METRICS_ADDRESS'])}" in targets
    temporal_metrics = doc["services"]["temporal"]["environment"]["PROMETHEUS_ENDPOINT"]
    assert f"temporal:{port_of(temporal_metrics)}" in targets
    # The rule files are inside the mounted folder, and every Spoorwerk metric they use is one the service makes.
    for rule_file in prometheus["rule_files"]:
        assert (
            rule_file.startswith("/etc/prometheus/") and (COMPOSE_DIR / "prometheus" / Path(rule_file).name).is_file()
        )
    alerts = (COMPOSE_DIR / "prometheus" / "alerts.yml").read_text()
    rules = [rule for group in yaml.safe_load(alerts)["groups"] for rule in group["rules"]]
    assert rules and all(rule["alert"] and rule["expr"] for rule in rules)
    metrics_source = (REPO / "service" / "metrics.py").read_text()
    for metric in set(re.findall(r"\bspoorwerk_[a-z_]+", alerts)):
        assert f'"{metric.removesuffix("_total")}"' in metrics_source, f"alerts.yml uses {metric}, which nothing emits"


def compose_search_attributes() -> dict[str, str]:
    raw = yaml.safe_load(COMPOSE.read_text())
    pairs = raw["services"]["temporal-namespace"]["environment"]["SEARCH_ATTRIBUTES"].split()
    return dict(pair.split("=", 1) for pair in pairs)


def test_compose_registers_exactly_the_workflows_search_attributes():
    flags = sa.cli_flags()
    expected = dict(value.split("=", 1) for value in flags[1::2])
    assert compose_search_attributes() == expected


async def test_namespace_setup_script_registers_them_on_a_real_server(dev_env: WorkflowEnvironment):
    """The compose one-shot's script, run twice against the dev server: creates, then finds everything."""
    namespace = f"deploy-{os.urandom(3).hex()}"
    env = {
        "PATH": f"{Path(temporal_cli()).parent}{os.pathsep}{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "NAMESPACE": namespace,
        "NAMESPACE_RETENTION": "90d",
        "SEARCH_ATTRIBUTES": " ".join(f"{k}={v}" for k, v in compose_search_attributes().items()),
    }
    script = COMPOSE_DIR / "scripts" / "setup-namespace.sh"
    first = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stdout + first.stderr
    again = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0 and again.stdout.count("exists") == len(sa.ALL) + 1, again.stdout + again.stderr
    listed = await dev_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert dict(listed.custom_attributes) == {key.name: key.indexed_value_type for key in sa.ALL}


# ================================================================== Kubernetes

KUSTOMIZE_FIELDS = {"apiVersion", "kind", "resources", "components", "patches", "images", "replicas", "namespace"}
# Strategic-merge keys of the lists these patches touch (the Kubernetes API's patchMergeKey).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PriorityClass"}


def load_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path, kustomization: dict | None = None) -> list[dict]:
    """`kustomize build` for the features these files use (see the module docstring)."""
    k = kustomization or yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(k) - KUSTOMIZE_FIELDS
    assert not unsupported, f"{directory}: this test does not render {sorted(unsupported)}; extend `render`"
    resources: list[dict] = []
    for ref in k.get("resources", []):
        path = directory / ref
        resources += render(path) if path.is_dir() else load_docs(path)
    for ref in k.get("components", []):
        component = yaml.safe_load((directory / ref / "kustomization.yaml").read_text())
        assert component["kind"] == "Component"
        resources = _transform(
            directory / ref,
            component,
            resources + sum((load_docs(directory / ref / r) for r in component.get("resources", [])), []),
        )
    return _transform(directory, k, resources)


def _transform(directory: Path, k: dict, resources: list[dict]) -> list[dict]:
    resources = copy.deepcopy(resources)
    for patch_ref in k.get("patches", []):
        assert set(patch_ref) == {"path"}, f"only patches by file are rendered here: {patch_ref}"
        for patch in load_docs(directory / patch_ref["path"]):
            target = [
                r
                for r in resources
                if r["kind"] == patch["kind"] and r["metadata"]["name"] == patch["metadata"]["name"]
            ]
            assert len(target) == 1, f"{patch_ref['path']}: no single {patch['kind']}/{patch['metadata']['name']}"
            if patch.get("$patch") == "delete":
                resources.remove(target[0])
            else:
                _merge(target[0], patch)
    for replicas in k.get("replicas", []):
        targets = [r for r in resources if r["kind"] == "Deployment" and r["metadata"]["name"] == replicas["name"]]
        assert targets, f"replicas for unknown {replicas['name']}"
        targets[0]["spec"]["replicas"] = replicas["count"]
    for image in k.get("images", []):
        for resource in resources:
            for container in _containers(resource):
                name = re.split(r"[@:](?=[^/]*$)", container["image"])[0]
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    if "namespace" in k:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = k["namespace"]
    return resources


def _merge(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(target.get(key), list):
            merge_key = MERGE_KEYS[key]
            for item in value:
                same = [t for t in target[key] if t.get(merge_key) == item.get(merge_key)]
                if same:
                    _merge(same[0], item)
                else:
                    target[key].append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def _containers(resource: dict) -> list[dict]:
    spec = resource.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def rendered_variants() -> dict[str, list[dict]]:
    """Every composition an operator can apply: the overlays, and the example with the KEDA component."""
    variants = {name: render(path) for name, path in OVERLAYS.items()}
    example = yaml.safe_load((OVERLAYS["example"] / "kustomization.yaml").read_text())
    variants["example+keda"] = render(OVERLAYS["example"], {**example, "components": ["../../components/keda"]})
    return variants


def pod_specs(resources: list[dict]) -> dict[str, dict]:
    return {r["metadata"]["name"]: r["spec"]["template"]["spec"] for r in resources if r["kind"] == "Deployment"}


def find(resources: list[dict], kind: str, name: str | None = None) -> dict:
    found = [r for r in resources if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def config_of(resources: list[dict]) -> dict[str, str]:
    return find(resources, "ConfigMap", "spoorwerk-config")["data"]


def k8s_versions() -> list[str]:
    """The oldest Kubernetes minor still commonly run that kubernetes-validate bundles, and its newest."""
    bundled = kubernetes_validate.utils.all_versions()
    return sorted({next(v for v in bundled if tuple(map(int, v.split(".")[:2])) >= (1, 30)), bundled[-1]})


def validate_k8s(resource: dict, where: str) -> None:
    if resource["apiVersion"].startswith("keda.sh/"):
        return  # a CRD: no bundled schema; test_keda_component checks it
    for version in k8s_versions():
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(map(str, err.path))
            pytest.fail(
                f"{where}: {resource['kind']}/{resource['metadata']['name']} against {version}: {path}: {err.message}"
            )


def test_every_manifest_and_rendered_overlay_validates_against_the_kubernetes_schemas():
    checked = 0
    for path in sorted((K8S / "base").glob("*.yaml")) + [
        K8S / "base" / "secret.yaml.example",
        KEDA / "scaledobject.yaml",
    ]:
        if path.name == "kustomization.yaml":
            continue
        for doc in load_docs(path):
            validate_k8s(doc, str(path.relative_to(REPO)))
            checked += 1
    for name, resources in rendered_variants().items():
        for resource in resources:
            validate_k8s(resource, name)
            checked += 1
    assert checked >= 30
    # Strict really is strict: a field the API does not know is refused.
    deployment = copy.deepcopy(find(render(OVERLAYS["example"]), "Deployment", "spoorwerk-worker"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, k8s_versions()[0], strict=True)


def test_overlays_set_image_namespace_and_replicas():
    for name, resources in rendered_variants().items():
        for resource in resources:
            if resource["kind"] != "Namespace":
                assert resource["metadata"].get("namespace") == "spoorwerk", f"{name}: {resource['metadata']['name']}"
            for container in _containers(resource):
                assert re.fullmatch(r"[\w.-]+(:\d+)?/[\w./-]+:[\w.-]+", container["image"]), (
                    f"{name}: {container['image']}"
                )
    assert find(render(OVERLAYS["example"]), "Deployment", "spoorwerk-worker")["spec"]["replicas"] == 3


def test_no_secret_is_committed_only_referenced():
    example_secret = load_docs(K8S / "base" / "secret.yaml.example")[0]
    for name, resources in {"base": render(K8S / "base"), **rendered_variants()}.items():
        assert not [r for r in resources if r["kind"] == "Secret"], f"{name} ships a Secret: create it outside git"
        assert not [key for key in config_of(resources) if SECRET_NAME.search(key)], (
            f"{name}: a secret in the ConfigMap"
        )
        for pod in pod_specs(resources).values():
            for container in pod["containers"]:
                refs = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
                assert refs == [example_secret["metadata"]["name"]], "secrets come from the Secret the example shows"
                for env in container.get("env", []):
                    if SECRET_NAME.search(env["name"]):
                        assert "secretKeyRef" in env.get("valueFrom", {}), f"{env['name']} is given a literal value"
            for volume in pod.get("volumes", []):
                assert set(volume) & {"emptyDir", "secret", "configMap", "projected"}, volume


def test_every_variable_given_to_the_service_exists_in_its_settings():
    for name, resources in {"base": render(K8S / "base"), **rendered_variants()}.items():
        unknown = [key for key in config_of(resources) if not known_to_service(key)]
        for pod in pod_specs(resources).values():
            for container in pod["containers"]:
                unknown += [env["name"] for env in container.get("env", []) if not known_to_service(env["name"])]
                assert container["command"] == ["spoorwerk-service"] and container["args"][0] in roles()
        assert not unknown, f"{name}: not read by the service (typo?): {unknown}"
    secret_keys = re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]+):", (K8S / "base" / "secret.yaml.example").read_text(), re.M)
    assert secret_keys and all(known_to_service(key) for key in secret_keys), secret_keys


def _dummy_secret() -> dict[str, str]:
    return {
        "SPOORWERK_ENCRYPTION_KEYS": SECRETS["SPOORWERK_ENCRYPTION_KEYS"],
        "SPOORWERK_MEDICAL_KEYS": SECRETS["SPOORWERK_MEDICAL_KEYS"],
        "SPOORWERK_SEARCH_KEY": SECRETS["SPOORWERK_SEARCH_KEY"],
        "SPOORWERK_API_TOKENS": SECRETS["SPOORWERK_API_TOKENS"],
        "SPOORWERK_DATABASE_URL": "postgresql+psycopg://spoorwerk:pw@db:5432/spoorwerk",
    }


def test_rendered_configuration_is_accepted_by_the_service(clean_env):
    for name, resources in rendered_variants().items():
        for deployment, pod in pod_specs(resources).items():
            container = pod["containers"][0]
            env = {
                **config_of(resources),
                **_dummy_secret(),
                **{e["name"]: e["value"] for e in container.get("env", [])},
            }
            with pytest.MonkeyPatch.context() as mp:
                settings = settings_from(env, mp)
            assert not settings.embedded, f"{name}/{deployment} would start the embedded dev server"
            assert settings.data_dir == Path("/data")
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            # A read-only root filesystem: the data dir and /tmp are writable emptyDirs.
            assert "emptyDir" in volumes[mounts["/data"]] and "emptyDir" in volumes[mounts["/tmp"]]
            # TLS files the settings name are mounted from a Secret, read-only, in every role.
            for path in filter(None, (settings.temporal_tls_client_cert, settings.temporal_tls_client_key)):
                mount = next((m for m in container["volumeMounts"] if str(path).startswith(m["mountPath"] + "/")), None)
                assert mount and mount.get("readOnly") and "secret" in volumes[mount["name"]], f"{name}: {path}"
    cloud = config_of(rendered_variants()["temporal-cloud"])
    assert cloud["TEMPORAL_TLS"] == "true" and cloud["TEMPORAL_ADDRESS"].endswith(".tmprl.cloud:7233")


def test_probes_and_scrape_annotations_are_on_the_contracts_ports():
    for name, resources in rendered_variants().items():
        config = config_of(resources)
        pods = pod_specs(resources)
        expected = {
            "spoorwerk-worker": port_of(config["SPOORWERK_HEALTH_ADDRESS"]),
            "spoorwerk-api": int(config["SPOORWERK_API_PORT"]),
        }
        for deployment, port in expected.items():
            container = pods[deployment]["containers"][0]
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}

            def resolve(p: int | str) -> int:
                return ports[p] if isinstance(p, str) else p  # noqa: B023 (called within this iteration)

            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert resolve(container[probe]["httpGet"]["port"]) == port, f"{name}: {deployment} {probe}"
            annotations = find(resources, "Deployment", deployment)["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert int(annotations["prometheus.io/port"]) == port_of(config["SPOORWERK_METRICS_ADDRESS"])
            assert int(annotations["prometheus.io/port"]) in ports.values()
        # The Service sends traffic to the API's pods only, on the API's port; the Ingress to that Service.
        service = find(resources, "Service", "spoorwerk-api")
        api = find(resources, "Deployment", "spoorwerk-api")
        worker = find(resources, "Deployment", "spoorwerk-worker")
        selector = service["spec"]["selector"].items()
        assert selector <= api["spec"]["template"]["metadata"]["labels"].items()
        assert not selector <= worker["spec"]["template"]["metadata"]["labels"].items()
        api_ports = {p["name"]: p["containerPort"] for p in api["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert api_ports[service["spec"]["ports"][0]["targetPort"]] == int(config["SPOORWERK_API_PORT"])
        backend = find(resources, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend["name"] == "spoorwerk-api" and backend["port"]["name"] == service["spec"]["ports"][0]["name"]


def test_worker_grace_period_exceeds_its_graceful_shutdown():
    default = Settings.model_fields["graceful_shutdown_seconds"].default
    for name, resources in rendered_variants().items():
        shutdown = float(config_of(resources).get("SPOORWERK_GRACEFUL_SHUTDOWN_SECONDS", default))
        for deployment, pod in pod_specs(resources).items():
            assert pod["terminationGracePeriodSeconds"] > shutdown, f"{name}: {deployment}"


def test_pods_meet_the_restricted_pod_security_standard():
    for name, resources in rendered_variants().items():
        for deployment, pod in pod_specs(resources).items():
            where = f"{name}: {deployment}"
            assert pod["securityContext"]["runAsNonRoot"] is True, where
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
            assert pod["automountServiceAccountToken"] is False, where
            for container in pod["containers"]:
                ctx = container["securityContext"]
                assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True, where
                assert ctx["capabilities"] == {"drop": ["ALL"]}, where
                assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
                assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), where
        namespace = [r for r in resources if r["kind"] == "Namespace"]
        if namespace:
            assert namespace[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_autoscaler_and_disruption_budgets_select_the_right_pods():
    for name, resources in rendered_variants().items():
        deployments = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Deployment"}
        for pdb in (r for r in resources if r["kind"] == "PodDisruptionBudget"):
            matches = [
                d
                for d, r in deployments.items()
                if pdb["spec"]["selector"]["matchLabels"].items() <= r["spec"]["template"]["metadata"]["labels"].items()
            ]
            assert matches == [pdb["metadata"]["name"]], f"{name}: {pdb['metadata']['name']} selects {matches}"
        for deployment in deployments.values():
            labels = deployment["spec"]["template"]["metadata"]["labels"].items()
            assert deployment["spec"]["selector"]["matchLabels"].items() <= labels
        autoscalers = [r for r in resources if r["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")]
        # Exactly one autoscaler on the worker: two would fight over its replicas.
        assert [a["spec"]["scaleTargetRef"]["name"] for a in autoscalers] == ["spoorwerk-worker"], name


def test_keda_component_scales_on_the_workers_own_task_queue():
    resources = rendered_variants()["example+keda"]
    assert not [r for r in resources if r["kind"] == "HorizontalPodAutoscaler"]
    scaled = find(resources, "ScaledObject", "spoorwerk-worker")
    config = config_of(resources)
    worker = find(resources, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    container = next(
        c
        for c in worker["spec"]["template"]["spec"]["containers"]
        if c["name"] == scaled["spec"]["scaleTargetRef"]["envSourceContainerName"]
    )
    assert container["args"] == ["worker"]
    temporal = next(t for t in scaled["spec"]["triggers"] if t["type"] == "temporal")["metadata"]
    assert temporal["endpointFromEnv"] in config and temporal["endpointFromEnv"] == "TEMPORAL_ADDRESS"
    assert temporal["namespace"] == config["TEMPORAL_NAMESPACE"]
    assert temporal["taskQueue"] == config["SPOORWERK_TASK_QUEUE"]
    assert all(isinstance(v, str) for v in temporal.values()), "KEDA trigger metadata values are strings"
    assert (
        scaled["spec"]["minReplicaCount"] >= 1 and scaled["spec"]["maxReplicaCount"] > scaled["spec"]["minReplicaCount"]
    )


# ================================================================== the operator's page


def test_operations_page_links_resolve():
    page = REPO / "docs" / "operations.md"
    text = page.read_text()
    readme_headings = {
        re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", (REPO / "README.md").read_text(), re.M)
    }
    links = re.findall(r"\]\((?!https?://)([^)#]*)(?:#([^)]*))?\)", text)
    assert links
    for target, anchor in links:
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"docs/operations.md links to missing {target}"
        if anchor and path.name == "README.md":
            assert anchor in readme_headings, f"README has no heading for #{anchor}"
    assert "docs/operations.md" in (REPO / "README.md").read_text()


def test_temporals_frontend_and_the_databases_are_not_published():
    """Issue 18: whoever reaches the frontend can record actions; only the stack's own network may."""
    doc = rendered_compose({**read_env_file(ENV_EXAMPLE), **SECRETS})
    for name in ("temporal", "postgresql", "temporal-schema", "temporal-namespace"):
        assert not doc["services"][name].get("ports"), name
    published = {p.split(":")[-1] for s in doc["services"].values() for p in s.get("ports", [])}
    assert "7233" not in published and "5432" not in published


def test_workers_roll_unversioned_and_never_leave_the_case_queue_without_pollers():
    """Bounded runs need a rolling update of one unversioned fleet (docs/versioning.md): a new pod before an old one
    goes, and no worker deployment version that would pin a case to the build it started on."""
    for name, resources in rendered_variants().items():
        worker = find(resources, "Deployment", "spoorwerk-worker")
        strategy = worker["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate", name
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0 and strategy["rollingUpdate"]["maxSurge"] >= 1, name
        for container in _containers(worker):
            named = {env["name"] for env in container.get("env", [])}
            assert not {n for n in named if "DEPLOYMENT" in n or "BUILD_ID" in n}, f"{name}: {named}"
