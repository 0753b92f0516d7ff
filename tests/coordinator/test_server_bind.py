"""A coordinator whose ports are taken says so, and leaves nothing open."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from entro_net.config import Clock, ModelConfig, NetworkConfig, Topology
from entro_net.coordinator.server import BindError, CoordinatorServer
from tests.node.harness import coordinator


def is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port held by a plain listening socket for the test, whose
    two lower neighbours were free a moment ago (other tests bind ports too)."""
    for _ in range(50):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", 0))
        port = int(holder.getsockname()[1])
        if port > 1026 and is_free(port - 1) and is_free(port - 2):
            break
        holder.close()
    else:
        pytest.fail("no loopback port with two free neighbours")
    holder.listen()
    try:
        yield port
    finally:
        holder.close()


@pytest.mark.parametrize("topology", [Topology.MESH, Topology.HUB])
@pytest.mark.parametrize("offset", [0, 1, 2])
def test_a_taken_port_is_a_bind_error_naming_the_address(
    taken_port: int, topology: Topology, offset: int
) -> None:
    if offset == 2 and topology is Topology.MESH:
        pytest.skip("P+2 is the hub's port only")
    net = NetworkConfig(topology=topology)
    core = coordinator(ModelConfig(), Clock.FREE, net=net)
    with pytest.raises(BindError) as caught:
        CoordinatorServer(core, net, host="127.0.0.1", port=taken_port - offset)
    assert f":{taken_port}" in str(caught.value)
