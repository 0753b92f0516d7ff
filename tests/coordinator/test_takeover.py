"""A hello claiming a live member's id: a restart replaces it, a takeover does not.

In memory (the core, with the server's link probe stubbed) and over a real
ROUTER (the server's probe: a closed connection is unreachable).
"""

from __future__ import annotations

import time

import zmq

from entro_net.config import Clock, ModelConfig
from entro_net.coordinator.server import CoordinatorServer
from entro_net.protocol import Decoder, Hello, Welcome, encode
from tests.coordinator.test_core import beat, hello
from tests.node.harness import NET, coordinator

MODEL = ModelConfig()


def test_a_hello_for_a_live_members_id_on_another_open_link_is_refused() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.link_up = lambda conn: True
    core.on_hello(hello("a"), b"A", 0.0)
    core.drain()

    core.on_hello(hello("a", incarnation=9), b"EVIL", 0.1)
    core.on_heartbeat(beat("a"), b"A", 0.2)

    out = core.drain()
    member = core.members["a"]
    assert (member.incarnation, member.conn) == (1, b"A")
    assert core.refused_hellos == 1
    assert "hello_refused" in [name for _, name, _ in out.events]
    assert not [m for conn, m in out.reply if conn == b"EVIL"]
    assert member.last_seen == 0.2, "the real member's heartbeat still counts"


def test_a_restart_on_a_new_link_replaces_the_member_at_once() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.link_up = lambda conn: conn != b"A"  # the old process's link closed
    core.on_hello(hello("a"), b"A", 0.0)

    core.on_hello(hello("a", incarnation=2), b"A2", 0.1)

    assert (core.members["a"].incarnation, core.members["a"].conn) == (2, b"A2")
    assert core.refused_hellos == 0


def test_a_suspect_member_is_replaced_even_while_its_link_looks_open() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.link_up = lambda conn: True
    core.on_hello(hello("a"), b"A", 0.0)
    core.tick(NET.heartbeat_interval_s * (NET.suspect_after + 1))

    core.on_hello(hello("a", incarnation=2), b"A2", 2.0)

    assert core.members["a"].incarnation == 2


def test_the_server_refuses_a_takeover_while_the_real_link_is_open_only() -> None:
    core = coordinator(MODEL, Clock.FREE)
    server = CoordinatorServer(core, NET, host="127.0.0.1", port=0)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sockets: list[zmq.Socket[bytes]] = []

    def dealer() -> zmq.Socket[bytes]:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://127.0.0.1:{server.port}")
        sockets.append(sock)
        return sock

    def say_hello(sock: zmq.Socket[bytes], msg: Hello) -> Welcome | None:
        sock.send(encode(msg))
        deadline = time.monotonic() + 3.0
        decoder = Decoder()
        while time.monotonic() < deadline:
            server.poll_once(0.02)
            if sock.poll(10):
                reply = decoder.feed(sock.recv())
                if isinstance(reply, Welcome):
                    return reply
        return None

    try:
        real = dealer()
        assert say_hello(real, hello("a")) is not None
        assert say_hello(dealer(), hello("a", incarnation=5)) is None
        assert core.members["a"].incarnation == 1
        assert core.refused_hellos == 1

        # The real member goes on: its heartbeats are neither impostor nor stale.
        before = core.members["a"].last_seen
        real.send(encode(beat("a")))
        for _ in range(20):
            server.poll_once(0.02)
        assert server.control_decoder.drops == {}
        assert core.members["a"].last_seen > before

        # Its process ends (link closed): a restart replaces it at once.
        real.close(0)
        sockets.remove(real)
        time.sleep(0.2)
        assert say_hello(dealer(), hello("a", incarnation=6)) is not None
        assert core.members["a"].incarnation == 6
    finally:
        for sock in sockets:
            sock.close(0)
        ctx.term()
        server.close()
