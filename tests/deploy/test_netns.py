"""docker-compose.yml's own services, run as processes in separate network namespaces.

No Docker: each service replica gets a namespace with its own address on a
bridge, and ``coordinator`` resolves through ``/etc/netns/NAME/hosts`` as the
service name does on a compose network. The command lines and environments
come from docker-compose.yml (and the image's Dockerfile), never from this
file. Everything the tests make is removed afterwards, also on failure.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from entro_net.config import NetworkConfig
from tests.deploy.compose import REPO, Service, load_compose, service
from tests.deploy.dockerfile import Dockerfile
from tests.deploy.netns import Host, Lab, Process

pytestmark = [pytest.mark.netns, pytest.mark.integration]

NODES = 20
START_TIMEOUT_S = 120.0  # 21 cold interpreters on two shared cores
POLL_S = 0.25
SERVICE_NAME = "coordinator"  # what nodes dial, as on a compose network
NET = NetworkConfig.model_construct()
DEAD_AFTER_S = NET.dead_after * NET.heartbeat_interval_s

T = TypeVar("T")


# --- reading the processes' logs -------------------------------------------


def events(process: Process) -> list[dict[str, Any]]:
    """The JSON log lines of one process (other lines are skipped)."""
    found = []
    for line in process.log_text().splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def named(process: Process, name: str) -> list[dict[str, Any]]:
    """The log events called ``name``."""
    return [e for e in events(process) if e.get("event") == name]


def wait_for(
    check: Callable[[], T | None],
    timeout_s: float,
    what: str,
    alive: list[Process],
) -> T:
    """Poll ``check`` until it returns a value; fail naming ``what`` on timeout.

    Fails at once when one of ``alive`` exits, with the end of its log.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result is not None:
            return result
        for process in alive:
            if process.popen.poll() is not None:
                tail = process.log_text()[-3000:]
                pytest.fail(f"{process.log_path.name} exited while waiting: {tail}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(POLL_S)


# --- the deployment ----------------------------------------------------------


def process_env(svc: Service, tool_path: str, home: Path) -> dict[str, str]:
    """What the container would see: the service's environment, no shell vars."""
    return {"PATH": tool_path, "HOME": str(home), "LANG": "C.UTF-8", **svc.environment}


def compose_services() -> tuple[Service, Service]:
    """The coordinator and node services as Compose would run them by default."""
    compose = load_compose()
    assert SERVICE_NAME in compose["services"]
    # An empty shell: every ${VAR:-default} takes the file's default.
    return service("coordinator", {}, compose), service("node", {}, compose)


@dataclass
class Deployment:
    """One coordinator namespace and NODES node namespaces, all running."""

    lab: Lab
    coordinator_host: Host
    coordinator: Process
    hosts: list[Host]
    nodes: list[Process]
    ids: list[str]
    env: dict[str, dict[str, str]]


def node_id(process: Process) -> str | None:
    """The id a node logged when it started listening."""
    listening = named(process, "node_listening")
    return str(listening[0]["node"]) if listening else None


def mesh_gaps(deployment: Deployment) -> dict[str, Any]:
    """What is still missing from a full mesh (empty when complete)."""
    gaps: dict[str, Any] = {}
    joined = {e["member"] for e in named(deployment.coordinator, "member_joined")}
    if missing := set(deployment.ids) - joined:
        gaps["not joined at the coordinator"] = sorted(missing)
    for process, me in zip(deployment.nodes, deployment.ids, strict=True):
        log = events(process)
        kinds = {e.get("event") for e in log}
        heard = {e["peer"] for e in log if e.get("event") == "peer_heard"}
        unheard = set(deployment.ids) - {me} - heard
        if not {"welcomed", "node_started"} <= kinds or unheard:
            gaps[me] = {"started": "node_started" in kinds, "unheard": sorted(unheard)}
    return gaps


@pytest.fixture(scope="module")
def deployment(
    module_lab: Lab, tool_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    lab = module_lab
    coordinator_svc, node_svc = compose_services()
    home = tmp_path_factory.mktemp("home")
    env = {
        "coordinator": process_env(coordinator_svc, tool_path, home),
        "node": process_env(node_svc, tool_path, home),
    }
    coordinator_host = lab.add_host("coordinator")
    hosts = [lab.add_host(f"node{i}") for i in range(NODES)]
    for host in hosts:
        lab.resolve(host, SERVICE_NAME, coordinator_host.address)

    coordinator = lab.start(
        coordinator_host, coordinator_svc.argv, env["coordinator"], "coordinator"
    )
    nodes = [
        lab.start(host, node_svc.argv, env["node"], f"node{i}")
        for i, host in enumerate(hosts)
    ]
    alive = [coordinator, *nodes]

    def all_ids() -> list[str] | None:
        ids = [node_id(p) for p in nodes]
        return None if None in ids else [str(i) for i in ids]

    ids = wait_for(all_ids, START_TIMEOUT_S, "every node to listen", alive)
    made = Deployment(lab, coordinator_host, coordinator, hosts, nodes, ids, env)
    wait_for(
        lambda: True if not mesh_gaps(made) else None,
        START_TIMEOUT_S,
        "a full mesh",
        alive,
    )
    yield made


def test_every_node_joins_syncs_and_is_heard_by_every_peer(
    deployment: Deployment,
) -> None:
    joined = named(deployment.coordinator, "member_joined")
    endpoints = {e["member"]: e["endpoint"] for e in joined}

    assert mesh_gaps(deployment) == {}
    assert len(set(deployment.ids)) == NODES, "replicas must get distinct ids"
    # Each node advertised the address of its own namespace (detected).
    for host, me in zip(deployment.hosts, deployment.ids, strict=True):
        assert endpoints[me].startswith(f"tcp://{host.address}:")
    for process in deployment.nodes:
        assert process.popen.poll() is None


def test_image_health_check_passes_for_the_coordinator_and_a_node(
    deployment: Deployment,
) -> None:
    health = Dockerfile.load(REPO / "deploy" / "Dockerfile").healthcheck
    lab = deployment.lab

    for_coordinator = lab.exec(
        deployment.coordinator_host, health, deployment.env["coordinator"], 30
    )
    for_node = lab.exec(deployment.hosts[0], health, deployment.env["node"], 30)

    assert for_coordinator.returncode == 0, for_coordinator.stderr
    assert for_node.returncode == 0, for_node.stderr


def test_cut_link_makes_the_node_dead_and_restoring_it_brings_it_back(
    deployment: Deployment,
) -> None:
    lab, victim = deployment.lab, deployment.hosts[3]
    member = deployment.ids[3]
    alive = [deployment.coordinator]

    def dead() -> int | None:
        lines = events(deployment.coordinator)
        for i, e in enumerate(lines):
            if e.get("event") == "member_dead" and e.get("member") == member:
                return i
        return None

    def back_after(index: int) -> Callable[[], bool | None]:
        def check() -> bool | None:
            later = events(deployment.coordinator)[index + 1 :]
            ok = any(
                e.get("member") == member and e.get("event") == "member_alive"
                for e in later
            )
            return True if ok else None

        return check

    assert dead() is None
    cut_at = time.monotonic()
    lab.set_link(victim, up=False)
    try:
        index = wait_for(dead, DEAD_AFTER_S + 15.0, f"{member} to be dead", alive)
        dead_s = time.monotonic() - cut_at
    finally:
        lab.set_link(victim, up=True)
    restored_at = time.monotonic()
    wait_for(back_after(index), 30.0, f"{member} to be alive again", alive)
    back_s = time.monotonic() - restored_at

    assert dead_s >= DEAD_AFTER_S * 0.9, "declared dead before the silence bound"
    assert back_s < 30.0
    assert deployment.nodes[3].popen.poll() is None


def test_node_started_before_its_coordinator_says_so_retries_and_joins(
    lab: Lab, tool_path: str, tmp_path: Path
) -> None:
    coordinator_svc, node_svc = compose_services()
    health = Dockerfile.load(REPO / "deploy" / "Dockerfile").healthcheck
    coordinator_env = process_env(coordinator_svc, tool_path, tmp_path)
    coordinator_host = lab.add_host("coordinator")
    node_host = lab.add_host("node")  # `coordinator` does not resolve here yet

    node = lab.start(
        node_host, node_svc.argv, process_env(node_svc, tool_path, tmp_path), "node"
    )
    nobody = lab.exec(coordinator_host, health, coordinator_env, 30)

    def two_warnings() -> list[dict[str, Any]] | None:
        warnings = named(node, "coordinator_unanswered")
        return warnings if len(warnings) >= 2 else None

    unanswered = wait_for(two_warnings, 30.0, "two warnings", [node])

    lab.resolve(node_host, SERVICE_NAME, coordinator_host.address)
    coordinator = lab.start(
        coordinator_host, coordinator_svc.argv, coordinator_env, "coordinator"
    )
    me = node_id(node)
    wait_for(
        lambda: named(node, "welcomed") or None,
        60.0,
        "the welcome",
        [node, coordinator],
    )
    joined = named(coordinator, "member_joined")

    assert nobody.returncode != 0, "health must fail when nothing answers"
    unresolved = named(node, "coordinator_unresolved")
    assert unresolved and "coordinator" in unresolved[0]["coordinator"]
    assert unanswered[0]["coordinator"] == node_svc.environment["ENTRO_NET_COORDINATOR"]
    assert unanswered[1]["retry_in_s"] > unanswered[0]["retry_in_s"], "no backoff"
    assert [e["member"] for e in joined] == [me]
    assert joined[0]["endpoint"].startswith(f"tcp://{node_host.address}:")


SCRAPE = """
import sys, urllib.request
with urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=10) as reply:
    sys.stdout.write(reply.read().decode())
"""


def test_prometheus_target_serves_the_coordinators_metrics_across_the_network(
    deployment: Deployment,
) -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    target = config["scrape_configs"][0]["static_configs"][0]["targets"][0]
    scraper = deployment.hosts[-1]  # another namespace, as Prometheus would be

    scraped = deployment.lab.exec(
        scraper, [sys.executable, "-c", SCRAPE, target], {"PATH": "/usr/bin:/bin"}, 30
    )

    assert target.startswith(f"{SERVICE_NAME}:")
    assert scraped.returncode == 0, scraped.stderr
    for me in deployment.ids:
        assert f'entro_net_node_psi{{node="{me}"}}' in scraped.stdout
