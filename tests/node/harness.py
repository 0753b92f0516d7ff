"""An in-memory network: node cores and a coordinator core wired by lists.

What a core publishes reaches every other party at once; control messages
go to the coordinator and its replies to the node they address. Time is a
number the test advances. No sockets, no clock, no threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from entro_net.config import Clock, ModelConfig, NetworkConfig
from entro_net.coordinator.core import CoordinatorCore
from entro_net.node.core import NodeCore, NodeSettings
from entro_net.node.source import NodeSource
from entro_net.protocol import Heartbeat, Hello, Leave, Message, State

NET = NetworkConfig()


def make_node(
    model: ModelConfig,
    node_id: str,
    index: int | None,
    *,
    clock: Clock = Clock.LOCKSTEP,
    steps: int | None = None,
    n: int = 2,
    seed: int = 0,
    net: NetworkConfig = NET,
    now: float = 0.0,
    rate_hz: float = 20.0,
) -> NodeCore:
    """A node core named ``node_id`` whose source is keyed like the simulator's."""
    settings = NodeSettings(
        node_id=node_id,
        incarnation=1,
        endpoint=f"tcp://127.0.0.1:{20000 + (index or 0)}",
        index=index,
        clock=clock,
        rate_hz=rate_hz,
        steps=steps,
        seed=seed,
        network_size=n,
        record=True,
    )

    def source(i: int) -> NodeSource:
        return NodeSource(model, seed=seed, network_size=n, index=i)

    return NodeCore(model, net, settings, source, now)


@dataclass
class Wire:
    """Carries messages between the cores; ``cut`` parts hear nothing."""

    coordinator: CoordinatorCore | None
    nodes: list[NodeCore]
    now: float = 0.0
    cut: set[str] = field(default_factory=set)
    coordinator_down: bool = False
    log: list[tuple[str, Message]] = field(default_factory=list)

    def pump(self) -> None:
        """Deliver everything queued until no core has more to say."""
        for _ in range(1000):
            moved = False
            for node in self.nodes:
                out = node.drain()
                for msg in out.publish:
                    moved = True
                    self._publish_from(node, msg)
                for msg in out.control:
                    moved = True
                    self._control_from(node, msg)
            if self.coordinator is not None and not self.coordinator_down:
                out_c = self.coordinator.drain()
                for conn, msg in out_c.reply:
                    moved = True
                    for node in self.nodes:
                        if (
                            node.node_id.encode() == conn
                            and node.node_id not in self.cut
                        ):
                            node.handle(msg, self.now, control=True)
                for msg in out_c.publish:
                    moved = True
                    for node in self.nodes:
                        if node.node_id not in self.cut:
                            node.handle(msg, self.now)
            if not moved:
                return
        raise AssertionError("messages kept flowing: a loop between the cores")

    def _publish_from(self, sender: NodeCore, msg: Message) -> None:
        self.log.append((sender.node_id, msg))
        if sender.node_id in self.cut:
            return
        for node in self.nodes:
            if node is not sender and node.node_id not in self.cut:
                node.handle(msg, self.now)
        core = self.coordinator
        if core is None or self.coordinator_down:
            return
        if isinstance(msg, State):
            core.on_state(msg, self.now)
        elif isinstance(msg, Heartbeat):
            core.on_heartbeat(msg, None, self.now)
        elif isinstance(msg, Leave):
            core.on_leave(msg, self.now, on_pub=True)

    def _control_from(self, sender: NodeCore, msg: Message) -> None:
        core = self.coordinator
        if core is None or self.coordinator_down or sender.node_id in self.cut:
            return
        conn = sender.node_id.encode()
        if isinstance(msg, Hello):
            core.on_hello(msg, conn, self.now)
        elif isinstance(msg, Heartbeat):
            core.on_heartbeat(msg, conn, self.now)
        elif isinstance(msg, Leave):
            core.on_leave(msg, self.now)

    def run(self, seconds: float, dt: float = 0.01) -> None:
        """Advance time by ``seconds`` in steps of ``dt``, ticking every core."""
        end = self.now + seconds
        while self.now < end - 1e-12:
            self.now += dt
            self.tick()

    def tick(self) -> None:
        """Tick every core once at the current time and deliver the traffic."""
        if self.coordinator is not None and not self.coordinator_down:
            self.coordinator.tick(self.now)
        self.pump()
        for node in self.nodes:
            node.tick(self.now)
            self.pump()

    def run_until(self, done: object, seconds: float, dt: float = 0.01) -> None:
        """Advance until ``done()`` is true; fail after ``seconds``."""
        check = done  # a callable; typed loosely to keep tests short
        end = self.now + seconds
        while not check():  # type: ignore[operator]
            if self.now >= end:
                raise AssertionError(f"not done within {seconds} s of test time")
            self.now += dt
            self.tick()


def coordinator(
    model: ModelConfig,
    clock: Clock = Clock.LOCKSTEP,
    *,
    expect: int = 0,
    net: NetworkConfig = NET,
    incarnation: int = 7,
) -> CoordinatorCore:
    """A coordinator core at time 0."""
    return CoordinatorCore(
        model, net, clock, 0.0, expect=expect, incarnation=incarnation
    )
