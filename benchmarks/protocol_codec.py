"""Micro benchmark of the wire codec: µs per message to encode, decode and feed.

State messages are the hot path (every node, every step, to every peer), so
their hand-written check is compared with the control messages' pydantic
validation and with a bare msgpack unpack (the floor). Prints one table and,
with --json, the same numbers as JSON. Takes a few seconds.

    python benchmarks/protocol_codec.py [--number 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from entro_net.protocol import (
    Decoder,
    Heartbeat,
    Member,
    Membership,
    MemberStatus,
    Message,
    NodeState,
    State,
    Threshold,
    decode,
    encode,
)

NODE = "node-a"


def samples() -> dict[str, Message]:
    """The messages timed: state and three control messages of rising size."""
    state = State(
        node=NODE, incarnation=7, seq=3, ts=1234.5, step=42, psi_raw=0.31,
        psi=0.33, error=-0.009, w1=0.5, w2=0.3, w3=0.2, theta_net=1.41,
        isolated=False, delta=0.02,
    )  # fmt: skip
    members = tuple(
        Member(
            node=f"node-{i}",
            endpoint=f"tcp://10.0.0.{i}:6001",
            incarnation=1,
            status=MemberStatus.ALIVE,
        )
        for i in range(20)
    )
    return {
        "state": state,
        "heartbeat": Heartbeat(
            node=NODE, incarnation=7, seq=3, ts=1.0, step=42, state=NodeState.ACTIVE
        ),
        "threshold": Threshold(
            node=NODE,
            incarnation=7,
            seq=3,
            ts=1.0,
            step=43,
            theta_net=1.6,
            var=0.01,
            v_net=0.2,
            n_taking_part=4,
        ),
        "membership_20": Membership(
            node=NODE, incarnation=7, seq=3, ts=1.0, members=members
        ),
    }


def best_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Best of ``repeat`` runs, in µs per call (best filters other load)."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def measure(number: int, repeat: int) -> list[dict[str, object]]:
    """Time encode, decode and Decoder.feed for every sample message.

    ``feed_us`` runs without sequence tracking (the same frame is fed again
    and again); ``feed_tracked_us`` (state only) feeds distinct seq numbers
    with tracking and the flood check on, as a node's receive loop would.
    """
    rows: list[dict[str, object]] = []
    for name, msg in samples().items():
        frame = encode(msg)
        n = number if name == "state" else max(number // 10, 1000)
        untracked = Decoder(track_sequence=False)
        row: dict[str, object] = {
            "message": name,
            "bytes": len(frame),
            "encode_us": best_us(partial(encode, msg), n, repeat),
            "unpack_only_us": best_us(partial(msgpack.unpackb, frame[1:]), n, repeat),
            "decode_us": best_us(partial(decode, frame), n, repeat),
            "feed_us": best_us(partial(untracked.feed, frame), n, repeat),
            "feed_tracked_us": float("nan"),
        }
        if isinstance(msg, State):
            row["feed_tracked_us"] = time_tracked_feed(msg, n, repeat)
        rows.append(row)
    return rows


def time_tracked_feed(state: State, number: int, repeat: int) -> float:
    """µs per ``feed`` of in-order state frames with all checks on."""
    frames = [encode(state._replace(seq=i)) for i in range(number * repeat)]
    decoder = Decoder()
    stream = iter(frames)

    def feed_next() -> object:
        return decoder.feed(next(stream), now=0.0)

    decoder.flood.rate_per_s = 1e12  # measure the check, not refusals
    return best_us(feed_next, number, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON instead")
    args = parser.parse_args()

    rows = measure(args.number, args.repeat)

    if args.json:
        print(json.dumps(rows, indent=2))
        return
    columns = ["message", "bytes", "encode_us", "unpack_only_us", "decode_us",
               "feed_us", "feed_tracked_us"]  # fmt: skip
    print("  ".join(f"{c:>14}" for c in columns))
    for row in rows:
        cells = [
            f"{row[c]:>14.2f}" if isinstance(row[c], float) else f"{row[c]:>14}"
            for c in columns
        ]
        print("  ".join(cells))


if __name__ == "__main__":
    main()
