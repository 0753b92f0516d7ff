"""A hostile process for the security tests, run as its own process.

``outsider``: holds a key that is not in the allow list but knows every
public key (the coordinator's and the nodes'). It says hello, listens on the
coordinator's event stream and on each node's PUB, and publishes forged
states and isolate decisions on a PUB of its own. ``member``: holds an
allowed key, joins, and publishes isolate/threshold decisions on its own
PUB (claiming its own id and the coordinator's) while it heartbeats.
Writes a JSON report of everything it received.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import zmq

from entro_net.protocol import (
    Heartbeat,
    Hello,
    Isolate,
    Message,
    NodeState,
    State,
    Threshold,
    Welcome,
    decode,
    encode,
)
from entro_net.security.keys import load_keypair, load_public_key

EPOCH = 10**6


def _client(
    ctx: zmq.Context[zmq.Socket[bytes]], kind: int, own: Any, server: bytes | None
) -> zmq.Socket[bytes]:
    sock = ctx.socket(kind)
    sock.linger = 0
    if own is not None and server is not None:
        sock.curve_publickey = own.public
        sock.curve_secretkey = own.secret
        sock.curve_serverkey = server
    return sock


def _forgeries(
    args: argparse.Namespace, me: str, coord_inc: int, seq: int
) -> list[Message]:
    now = time.monotonic()
    out: list[Message] = []
    for sender, incarnation in ((me, 1), ("coordinator", coord_inc)):
        header = {"node": sender, "incarnation": incarnation, "seq": seq, "ts": now}
        out.append(Isolate(**header, target=args.target, step=0, epoch=EPOCH + seq))
        out.append(
            Threshold(
                **header, step=0, theta_net=2.5, var=0.0, v_net=0.0, n_taking_part=1
            )
        )
    out.append(
        State(
            node=args.target,
            incarnation=1,
            seq=seq,
            ts=now,
            step=seq,
            psi_raw=1.9,
            psi=1.9,
            error=1.5,
            w1=0.5,
            w2=0.3,
            w3=0.2,
            theta_net=2.5,
            isolated=False,
            delta=0.0,
        )
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["outsider", "member"])
    parser.add_argument("--coordinator", required=True)
    parser.add_argument("--coordinator-key")
    parser.add_argument("--curve-secret")
    parser.add_argument("--node-id", default="rogue")
    parser.add_argument("--target", default="node-0")
    parser.add_argument("--dial", action="append", default=[], help="ENDPOINT=KEYFILE")
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()

    own = load_keypair(args.curve_secret) if args.curve_secret else None
    coord_key = load_public_key(args.coordinator_key) if args.coordinator_key else None
    host, port = args.coordinator.rsplit(":", 1)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()

    dealer = _client(ctx, zmq.DEALER, own, coord_key)
    dealer.connect(args.coordinator)
    events = _client(ctx, zmq.SUB, own, coord_key)
    events.subscribe(b"")
    events.connect(f"{host}:{int(port) + 1}")
    listeners = []
    for item in args.dial:
        endpoint, keyfile = item.split("=", 1)
        sock = _client(ctx, zmq.SUB, own, load_public_key(keyfile))
        sock.subscribe(b"")
        sock.connect(endpoint)
        listeners.append(sock)

    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    if own is not None:
        pub.curve_secretkey = own.secret
        pub.curve_server = True  # no ZAP handler here: anyone may listen
    pub_port = pub.bind_to_random_port("tcp://127.0.0.1", 20000, 32000)
    endpoint = f"tcp://127.0.0.1:{pub_port}"

    received: dict[str, int] = {"control": 0, "events": 0, "nodes": 0}
    welcomed = False
    coord_inc = 0
    seq = 0
    end = time.monotonic() + args.duration
    next_beat = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_beat:
            header = {"node": args.node_id, "incarnation": 1, "seq": seq, "ts": now}
            beat = Heartbeat(**header, step=seq, state=NodeState.ACTIVE)
            hello = Hello(**header, endpoint=endpoint)
            # A refused connection leaves the DEALER nowhere to send to.
            with contextlib.suppress(zmq.Again):
                if not welcomed:
                    dealer.send(encode(hello), zmq.NOBLOCK)
                dealer.send(encode(beat), zmq.NOBLOCK)
            pub.send(encode(beat))
            for msg in _forgeries(args, args.node_id, coord_inc, seq):
                pub.send(encode(msg))
            seq += 1
            next_beat = now + 0.1
        for name, sock in (("control", dealer), ("events", events)):
            while sock.poll(0):
                frame = sock.recv()
                received[name] += 1
                if name == "control":
                    msg = decode(frame)
                    if isinstance(msg, Welcome):
                        welcomed = True
                        coord_inc = msg.incarnation
        for sock in listeners:
            while sock.poll(0):
                sock.recv()
                received["nodes"] += 1
        time.sleep(0.01)

    Path(args.report).write_text(
        json.dumps({"received": received, "welcomed": welcomed, "published": seq})
    )
    for sock in (dealer, events, pub, *listeners):
        sock.close(0)
    ctx.term()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
