"""deploy/ wired as the README says: migrations as the schema owner, gateways as the runtime
role gateway_app; the checkpoint key and the compliance settings reach the gateways in
compose and Kubernetes; every reference resolves; every GATEWAY_* named is a real setting.
Docker is not needed: the files are read as compose and kubectl would read them."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from gateway.settings import Settings
from tests.deploy.support import DEPLOY, load_all_yaml, load_yaml, require_tool

ROOT = DEPLOY.parent
COMPOSE = DEPLOY / "docker-compose.yml"
K8S = DEPLOY / "k8s"
OWNER, RUNTIME = "gateway_owner", "gateway_app"
COMPLIANCE_SETTINGS = (
    "GATEWAY_FX_RATES", "GATEWAY_HOME_COUNTRY", "GATEWAY_LICENCES_HELD", "GATEWAY_PARTNER_BANKS",
    "GATEWAY_RULES_AS_OF", "GATEWAY_RULES_DIR", "GATEWAY_RETENTION_JURISDICTIONS",
)  # fmt: skip
SETTINGS = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}


def _interpolated(value: str) -> str:
    """A compose value with each ${NAME...} replaced by a URL-safe stand-in, `NAME.value`."""
    return re.sub(r"\$\{(\w+)[^}]*\}", r"\1.value", value)


def _user(dsn: str) -> str | None:
    return urlsplit(_interpolated(dsn)).username


# -- docker compose ------------------------------------------------------------------------


def _services() -> dict[str, dict[str, Any]]:
    return dict(load_yaml(COMPOSE)["services"])


def _gateways() -> dict[str, dict[str, Any]]:
    """Services running the image's default command (`gateway serve`)."""
    return {
        name: svc
        for name, svc in _services().items()
        if "GATEWAY_DATABASE_URL" in svc.get("environment", {}) and "command" not in svc
    }


def _completed_before(service: dict[str, Any], other: str) -> bool:
    return bool(
        service.get("depends_on", {}).get(other, {}).get("condition") == "service_completed_successfully"
    )


def test_compose_gateways_connect_as_the_runtime_role_after_migrate() -> None:
    gateways = _gateways()
    assert sorted(gateways) == ["gateway-1", "gateway-2"]
    for name, svc in gateways.items():
        env = svc["environment"]
        assert _user(env["GATEWAY_DATABASE_URL"]) == RUNTIME, name
        assert "GATEWAY_MIGRATION_DATABASE_URL" not in env, f"{name} holds the owner's DSN"
        assert _completed_before(svc, "migrate"), name


def test_compose_migrates_as_the_owner_after_the_roles_are_made() -> None:
    services = _services()
    migrate, roles = services["migrate"], services["db-roles"]
    assert "gateway migrate" in " ".join(migrate["command"])
    assert _user(migrate["environment"]["GATEWAY_MIGRATION_DATABASE_URL"]) == OWNER
    assert _user(migrate["environment"]["GATEWAY_DATABASE_URL"]) == RUNTIME  # seed-demo
    assert _completed_before(migrate, "db-roles")
    # db-roles runs deploy/postgres/roles.sql, mounted from the repository, with psql.
    mounted = {v.split(":")[1]: (COMPOSE.parent / v.split(":")[0]).resolve() for v in roles["volumes"]}
    script = next(arg for arg in roles["command"] if arg.endswith(".sql"))
    folder = next(target for target in mounted if script.startswith(target + "/"))
    assert (mounted[folder] / script[len(folder) + 1 :]).is_file()
    assert roles["environment"]["PGUSER"] == services["postgres"]["environment"]["POSTGRES_USER"]


def test_compose_passwords_for_the_roles_are_the_ones_in_the_dsns() -> None:
    """db-roles sets each role's password from the same .env variable its DSN uses."""
    services = _services()
    roles_env = services["db-roles"]["environment"]
    migrate_env = services["migrate"]["environment"]
    for dsn, role_var in (
        (migrate_env["GATEWAY_MIGRATION_DATABASE_URL"], "POSTGRES_OWNER_PASSWORD"),
        (migrate_env["GATEWAY_DATABASE_URL"], "POSTGRES_APP_PASSWORD"),
    ):
        password = urlsplit(_interpolated(dsn)).password
        assert password == _interpolated(roles_env[role_var]) == f"{role_var}.value"


def test_compose_gives_the_gateways_the_checkpoint_key_and_compliance_settings() -> None:
    for name, svc in {**_gateways(), "migrate": _services()["migrate"]}.items():
        env = svc["environment"]
        assert "${GATEWAY_AUDIT_CHECKPOINT_KEY:?" in env["GATEWAY_AUDIT_CHECKPOINT_KEY"], name
        missing = [key for key in COMPLIANCE_SETTINGS if key not in env]
        assert missing == [], name


def test_every_variable_compose_reads_is_in_env_example() -> None:
    """`cp .env.example .env` must leave nothing for compose to miss."""
    wanted = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    passed_through = {
        k for svc in _services().values() for k, v in svc.get("environment", {}).items() if v is None
    }
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert sorted((wanted | passed_through) - listed) == []


# -- database roles --------------------------------------------------------------------------


def test_the_roles_script_makes_the_roles_the_dsns_use() -> None:
    made = set(re.findall(r"CREATE ROLE (\w+)", (DEPLOY / "postgres" / "roles.sql").read_text()))
    assert made == {OWNER, RUNTIME}


# -- Kubernetes ------------------------------------------------------------------------------


def _manifests() -> list[dict[str, Any]]:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    return [doc for name in kustomization["resources"] for doc in load_all_yaml(K8S / name)]


def _find(kind: str, name: str) -> dict[str, Any]:
    found = [m for m in _manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def _containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _env_sources(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Variable -> (kind, object name) for every env entry; envFrom as ('*' , ...)."""
    sources: dict[str, tuple[str, str]] = {}
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {})
        for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if key in ref:
                sources[entry["name"]] = (kind, ref[key]["name"])
    return sources


def _data(manifest: dict[str, Any]) -> dict[str, str]:
    return {**manifest.get("data", {}), **manifest.get("stringData", {})}


def test_kustomization_lists_every_manifest() -> None:
    listed = set(load_yaml(K8S / "kustomization.yaml")["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_every_reference_in_the_workloads_resolves() -> None:
    """Each Secret/ConfigMap a container reads, by envFrom or key, exists with that key."""
    objects = {(m["kind"], m["metadata"]["name"]): m for m in _manifests()}
    for workload in (m for m in _manifests() if m["kind"] in {"Deployment", "Job"}):
        for container in _containers(workload):
            for source in container.get("envFrom", []):
                for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if key in source:
                        assert (kind, source[key]["name"]) in objects
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {})
                for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if key in ref:
                        target = objects[(kind, ref[key]["name"])]
                        assert ref[key]["key"] in _data(target), (
                            f"{kind}/{ref[key]['name']}: {ref[key]['key']}"
                        )


def test_k8s_gateways_connect_as_the_runtime_role_and_the_job_as_the_owner() -> None:
    runtime = _data(_find("Secret", "gateway-secrets"))
    owner = _data(_find("Secret", "gateway-migrate-secrets"))
    assert _user(runtime["GATEWAY_DATABASE_URL"]) == RUNTIME
    assert _user(owner["GATEWAY_MIGRATION_DATABASE_URL"]) == OWNER
    assert "GATEWAY_MIGRATION_DATABASE_URL" not in runtime

    (gateway,) = _containers(_find("Deployment", "gateway"))
    assert "gateway-migrate-secrets" not in str(gateway), "the gateways must not see the owner's DSN"
    assert {"configMapRef": {"name": "gateway-config"}} in gateway["envFrom"]
    assert {"secretRef": {"name": "gateway-secrets"}} in gateway["envFrom"]

    (migrate,) = _containers(_find("Job", "gateway-migrate"))
    assert migrate["command"][-1] == "migrate"
    assert _env_sources(migrate)["GATEWAY_MIGRATION_DATABASE_URL"] == ("Secret", "gateway-migrate-secrets")


def test_k8s_gives_the_gateways_the_checkpoint_key_and_compliance_settings() -> None:
    assert "GATEWAY_AUDIT_CHECKPOINT_KEY" in _data(_find("Secret", "gateway-secrets"))
    config = _data(_find("ConfigMap", "gateway-config"))
    assert [key for key in COMPLIANCE_SETTINGS if key not in config] == []


def test_the_configmap_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty values in the ConfigMap mean unset; none may stop a pod at start."""
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    for key, value in _data(_find("ConfigMap", "gateway-config")).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.home_country == "KR" and settings.rules_as_of is None and settings.rules_dir is None
    assert settings.fx_rates == Settings.model_fields["fx_rates"].get_default(call_default_factory=True)


def test_kustomize_renders_the_manifests() -> None:
    kubectl = require_tool("kubectl")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(rendered.stdout) if d)
    assert kinds == sorted((m["kind"], m["metadata"]["name"]) for m in _manifests())
    assert all(
        d["metadata"].get("namespace") == "compliance-gateway"
        for d in yaml.safe_load_all(rendered.stdout)
        if d and d["kind"] != "Namespace"
    )


# -- everything under deploy/ -----------------------------------------------------------------


def _deploy_texts() -> dict[Path, str]:
    return {
        path: path.read_text()
        for path in DEPLOY.rglob("*")
        if path.is_file() and path.suffix in {".yml", ".yaml", ".md", ".json", ".sql"}
    }


def test_every_gateway_setting_named_in_deploy_is_real() -> None:
    named = {
        (path.relative_to(ROOT).as_posix(), key)
        for path, text in _deploy_texts().items()
        for key in re.findall(r"\bGATEWAY_[A-Z0-9_]+\b", text)
    }
    assert sorted((where, key) for where, key in named if key not in SETTINGS) == []
