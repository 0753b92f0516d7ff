"""One valid message of every type, for the protocol tests."""

from __future__ import annotations

from typing import Any, TypedDict

from entro_net.protocol import (
    Heartbeat,
    Hello,
    Isolate,
    Leave,
    Member,
    Membership,
    MemberStatus,
    Message,
    NodeState,
    PeerInfo,
    Readmit,
    State,
    Threshold,
    Welcome,
)


class Header(TypedDict):
    """The four header fields every message constructor takes."""

    node: str
    incarnation: int
    seq: int
    ts: float


def header(
    node: str = "node-a", incarnation: int = 7, seq: int = 3, ts: float = 1234.5
) -> Header:
    """A message header; node-a's by default."""
    return Header(node=node, incarnation=incarnation, seq=seq, ts=ts)


HEADER = header()
COORD = header(node="coordinator")


def a_state(**changes: Any) -> State:
    """A plausible state message of node-a, with ``changes`` applied."""
    state = State(
        node="node-a",
        incarnation=7,
        seq=3,
        ts=1234.5,
        step=42,
        psi_raw=0.31,
        psi=0.33,
        error=-0.009,
        w1=0.5,
        w2=0.3,
        w3=0.2,
        theta_net=1.41,
        isolated=False,
        delta=0.02,
    )
    return state._replace(**changes)


def every_message() -> list[Message]:
    """One message of each of the nine types."""
    return [
        a_state(),
        Hello(**HEADER, endpoint="tcp://10.0.0.5:6001", weights=(0.5, 0.3, 0.2)),
        Welcome(
            **COORD,
            step=100,
            theta_net=1.5,
            isolated=("node-c",),
            epoch=4,
            peers=(
                PeerInfo(node="node-b", endpoint="tcp://node-b:6001", incarnation=2),
                PeerInfo(node="node-c", endpoint="tcp://[::1]:6002", incarnation=1),
            ),
            weights=(0.45, 0.35, 0.2),
            config_fingerprint="abc123",
        ),
        Heartbeat(**HEADER, step=42, state=NodeState.ACTIVE),
        Threshold(
            **COORD, step=43, theta_net=1.62, var=0.01, v_net=0.2, n_taking_part=4
        ),
        Isolate(**COORD, target="node-c", step=300, epoch=5),
        Readmit(**COORD, target="node-c", step=320, epoch=6),
        Leave(**HEADER, reason="sigterm"),
        Membership(
            **COORD,
            members=(
                Member(
                    node="node-a",
                    endpoint="tcp://127.0.0.1:6001",
                    incarnation=7,
                    status=MemberStatus.ALIVE,
                ),
                Member(
                    node="node-b",
                    endpoint="tcp://127.0.0.1:6002",
                    incarnation=2,
                    status=MemberStatus.SUSPECT,
                ),
            ),
        ),
    ]
