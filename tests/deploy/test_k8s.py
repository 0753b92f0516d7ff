"""The Kubernetes manifests are valid and lay the network out as compose does.

Validation uses kubernetes-validate (strict: unknown fields fail). The layout
checks tie the manifests to the Dockerfile's health check, the config's
defaults and the compose file's image, so they cannot drift apart.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from entro_net.config import ENV_PREFIX, ModelSettings, NetworkConfig
from tests.deploy.compose import REPO, env_text, load_compose
from tests.deploy.dockerfile import Dockerfile

K8S = REPO / "deploy" / "k8s"


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            docs += [(path, doc) for doc in yaml.safe_load_all(handle) if doc]
    return docs


def _find(kind: str, name: str) -> dict[str, Any]:
    for _, doc in _documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in {K8S}")


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


@pytest.mark.parametrize(
    ("path", "doc"), _documents(), ids=lambda v: v.name if isinstance(v, Path) else ""
)
def test_manifest_is_valid_kubernetes(path: Path, doc: dict[str, Any]) -> None:
    version = kubernetes_validate.latest_version()

    kubernetes_validate.validate(doc, version, strict=True)


def test_manifests_cover_coordinator_service_and_scaled_nodes() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in _documents()}

    assert {
        ("Deployment", "coordinator"),
        ("Service", "coordinator"),
        ("Deployment", "node"),
        ("ConfigMap", "entro-net-settings"),
    } <= kinds
    assert _find("Deployment", "node")["spec"]["replicas"] >= 2
    assert _find("Deployment", "coordinator")["spec"]["replicas"] == 1


def test_nodes_advertise_their_pod_ip_and_dial_the_coordinator_service() -> None:
    node = _env(_container(_find("Deployment", "node")))
    service = _find("Service", "coordinator")
    control = next(
        p["port"] for p in service["spec"]["ports"] if p["name"] == "control"
    )

    assert (
        node["ENTRO_NET_ADVERTISE"]["valueFrom"]["fieldRef"]["fieldPath"]
        == "status.podIP"
    )
    assert node["ENTRO_NET_COORDINATOR"]["value"] == f"tcp://coordinator:{control}"


def test_service_exposes_control_and_event_ports_of_the_coordinator() -> None:
    service = _find("Service", "coordinator")
    coordinator = _find("Deployment", "coordinator")
    labels = coordinator["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    port = NetworkConfig.model_construct().port

    assert service["spec"]["selector"].items() <= labels.items()
    assert ports["control"] == port and ports["events"] == port + 1
    metrics = _env(_container(coordinator))["ENTRO_NET_METRICS_PORT"]["value"]
    assert ports["metrics"] == int(metrics)


@pytest.mark.parametrize("name", ["coordinator", "node"])
def test_probes_run_the_images_health_check(name: str) -> None:
    container = _container(_find("Deployment", name))
    health = Dockerfile.load(REPO / "deploy" / "Dockerfile").healthcheck

    assert container["livenessProbe"]["exec"]["command"] == health
    assert container["readinessProbe"]["exec"]["command"] == health
    assert container["command"][-1] == name


def test_pods_use_the_compose_image_and_run_as_the_images_user() -> None:
    image = load_compose()["services"]["node"]["image"]
    for name in ("coordinator", "node"):
        deployment = _find("Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        assert _container(deployment)["image"] == image
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_settings_config_map_holds_every_setting_with_the_flags_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _find("ConfigMap", "entro-net-settings")["data"]
    defaults = {
        **ModelSettings.model_construct().model_dump(),
        **NetworkConfig.model_construct().model_dump(),
    }
    # Settings without a default (or a list) are left out; `coordinator` is set
    # per Deployment.
    expected = {
        ENV_PREFIX + name.upper()
        for name, value in defaults.items()
        if value is not None and not isinstance(value, tuple) and name != "coordinator"
    }
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in data.items():
        monkeypatch.setenv(key, value)

    settings = {**ModelSettings().model_dump(), **NetworkConfig().model_dump()}

    missing = sorted(expected - set(data))
    assert not missing, "add to deploy/k8s/settings.yaml:\n" + "\n".join(
        f'  {var}: "{env_text(defaults[var.removeprefix(ENV_PREFIX).lower()])}"'
        for var in missing
    )
    assert settings == defaults
