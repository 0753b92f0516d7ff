"""The allow list at work: ZAP answers, held keys, refusals in the log."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import structlog
import zmq

from entro_net.security.handshake import explain
from entro_net.security.keys import KeyPair
from entro_net.security.zap import ZapHandler

Ctx = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def ctx() -> Iterator[Ctx]:
    context: Ctx = zmq.Context()
    yield context
    context.destroy(linger=0)


def _pair() -> KeyPair:
    public, secret = zmq.curve_keypair()
    return KeyPair(public, secret)


def _server(ctx: Ctx, keys: KeyPair) -> tuple[zmq.Socket[bytes], str]:
    sock = ctx.socket(zmq.PULL)
    sock.curve_secretkey = keys.secret
    sock.curve_server = True
    sock.zap_domain = b"control"
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    return sock, f"tcp://127.0.0.1:{port}"


def _client(
    ctx: Ctx, keys: KeyPair, server: KeyPair, endpoint: str
) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.PUSH)
    sock.linger = 0
    sock.curve_publickey = keys.public
    sock.curve_secretkey = keys.secret
    sock.curve_serverkey = server.public
    sock.connect(endpoint)
    sock.send(keys.public)
    return sock  # the caller holds it: a collected socket sends nothing


def _pump(zap: ZapHandler, pull: zmq.Socket[bytes], seconds: float) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        zap.handle()
        if pull.poll(20):
            got.append(pull.recv())
    return got


def test_allowed_key_gets_in_and_other_key_is_refused_and_logged(ctx: Ctx) -> None:
    server, friend, stranger = _pair(), _pair(), _pair()
    zap = ZapHandler(
        ctx,
        wait_s=0.0,
        warn_interval_s=5.0,
        policy=lambda domain, key: key == friend.public,
    )
    pull, endpoint = _server(ctx, server)

    with structlog.testing.capture_logs() as logs:
        clients = [
            _client(ctx, friend, server, endpoint),
            _client(ctx, stranger, server, endpoint),
        ]
        got = _pump(zap, pull, 1.0)

    assert got == [friend.public]
    assert len(clients) == 2
    refused = [e for e in logs if e["event"] == "curve_refused"]
    assert len(refused) == 1
    assert refused[0]["key"] == stranger.public_text
    assert refused[0]["address"] == "127.0.0.1"
    assert refused[0]["socket"] == "control"
    assert zap.refused == {stranger.public_text: 1}
    zap.close()


def test_unknown_key_waits_and_gets_in_once_vouched_for(ctx: Ctx) -> None:
    server, late = _pair(), _pair()
    vouched: set[bytes] = set()
    zap = ZapHandler(
        ctx,
        wait_s=5.0,
        warn_interval_s=5.0,
        policy=lambda domain, key: True if key in vouched else None,
    )
    pull, endpoint = _server(ctx, server)
    client = _client(ctx, late, server, endpoint)

    assert _pump(zap, pull, 0.3) == []
    assert len(zap.pending) == 1

    vouched.add(late.public)
    assert _pump(zap, pull, 1.0) == [late.public]
    assert not zap.refused
    assert not client.closed
    zap.close()


def test_unknown_key_is_refused_when_its_wait_is_over(ctx: Ctx) -> None:
    server, stranger = _pair(), _pair()
    zap = ZapHandler(
        ctx, wait_s=0.2, warn_interval_s=5.0, policy=lambda domain, key: None
    )
    pull, endpoint = _server(ctx, server)
    client = _client(ctx, stranger, server, endpoint)

    with structlog.testing.capture_logs() as logs:
        got = _pump(zap, pull, 0.8)

    assert got == []
    assert zap.pending == []
    assert [e["reason"] for e in logs if e["event"] == "curve_refused"] == [
        "key not vouched for within 0.2 s"
    ]
    assert not client.closed
    zap.close()


@pytest.mark.parametrize(
    ("server", "secure", "expected"),
    [
        (True, True, "plaintext_refused"),
        (True, False, "curve_client_refused"),
        (False, True, "coordinator_not_secure"),
        (False, False, "coordinator_requires_curve"),
    ],
)
def test_mechanism_mismatch_is_named_from_each_side(
    server: bool, secure: bool, expected: str
) -> None:
    failure = explain(
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH,
        server=server,
        secure=secure,
        peer="coordinator",
    )

    assert failure is not None
    assert failure.event == expected
    assert "--curve-secret" in failure.hint


def test_a_refused_key_is_reported_by_the_client_and_left_to_zap_on_the_server() -> (
    None
):
    client = explain(
        zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400, server=False, secure=True, peer="peer"
    )
    server = explain(
        zmq.EVENT_HANDSHAKE_FAILED_AUTH, 400, server=True, secure=True, peer="client"
    )

    assert client is not None and client.key_refused
    assert client.event == "peer_refused_key"
    assert server is None
