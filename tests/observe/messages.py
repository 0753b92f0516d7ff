"""Small message builders for the observing tests."""

from __future__ import annotations

from entro_net.protocol import (
    Heartbeat,
    Isolate,
    Leave,
    Member,
    Membership,
    MemberStatus,
    NodeState,
    Readmit,
    State,
    Threshold,
)

COORDINATOR = "coordinator"


def state(
    node: str,
    step: int,
    *,
    seq: int | None = None,
    psi: float = 0.4,
    raw: float = 0.35,
    isolated: bool = False,
    incarnation: int = 1,
) -> State:
    return State(
        node=node,
        incarnation=incarnation,
        seq=step if seq is None else seq,
        ts=float(step),
        step=step,
        psi_raw=raw,
        psi=psi,
        error=psi - 0.339,
        w1=0.5,
        w2=0.3,
        w3=0.2,
        theta_net=1.4,
        isolated=isolated,
        delta=psi - raw,
    )


def beat(node: str, seq: int, state: NodeState = NodeState.ACTIVE) -> Heartbeat:
    return Heartbeat(node=node, incarnation=1, seq=seq, ts=0.0, step=0, state=state)


def leave(node: str) -> Leave:
    return Leave(node=node, incarnation=1, seq=0, ts=0.0, reason="steps_done")


def threshold(step: int, var: float, *, incarnation: int = 1) -> Threshold:
    return Threshold(
        node=COORDINATOR,
        incarnation=incarnation,
        seq=step,
        ts=0.0,
        step=step,
        theta_net=1.4 + var,
        var=var,
        v_net=2 * var,
        n_taking_part=3,
    )


def isolate(target: str, step: int, epoch: int, *, seq: int = 0) -> Isolate:
    return Isolate(
        node=COORDINATOR, incarnation=1, seq=seq, ts=0.0, target=target,
        step=step, epoch=epoch,
    )  # fmt: skip


def readmit(target: str, step: int, epoch: int, *, seq: int = 0) -> Readmit:
    return Readmit(
        node=COORDINATOR, incarnation=1, seq=seq, ts=0.0, target=target,
        step=step, epoch=epoch,
    )  # fmt: skip


def membership(
    seq: int, *members: tuple[str, int, MemberStatus], incarnation: int = 1
) -> Membership:
    return Membership(
        node=COORDINATOR,
        incarnation=incarnation,
        seq=seq,
        ts=0.0,
        members=tuple(
            Member(
                node=node,
                endpoint=f"tcp://127.0.0.1:{21000 + index}",
                incarnation=1,
                status=status,
                index=index,
                since=0,
            )
            for node, index, status in members
        ),
    )
