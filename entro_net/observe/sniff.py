"""``entro-net sniff``: every message on the wire as one JSON object a line.

The coordinator's event stream and every member's PUB (see ``Tap``), each
message decoded and written with ``as_dict``: ``type``, ``v``, ``node``,
``incarnation``, ``seq``, ``ts`` and the type's own fields. Filters keep
the types and nodes asked for (a node matches as sender or as the target of
an isolate or readmit). Frames that do not decode are counted on stderr at
the end, never printed. Made for pipes: ``entro-net sniff | jq``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from entro_net.config import NetworkConfig
from entro_net.node.process import StopFlag
from entro_net.observe.tap import Tap
from entro_net.protocol import Message, MessageType, as_dict

NODE_TYPES = frozenset({"state", "heartbeat", "leave", "hello"})
"""Types only members send: sniffing others needs no member's PUB."""
EXIT_COUNT_NOT_REACHED = 1


def parse_types(values: Iterable[str]) -> frozenset[str] | None:
    """``--type`` values (repeated or comma-separated) as labels; None: all.

    Raises:
        ValueError: a name that is not a message type.
    """
    labels = {kind.label for kind in MessageType}
    chosen = {part.strip() for value in values for part in value.split(",")}
    chosen.discard("")
    unknown = chosen - labels
    if unknown:
        raise ValueError(
            f"unknown message type(s) {sorted(unknown)}; use {sorted(labels)}"
        )
    return frozenset(chosen) or None


@dataclass(frozen=True)
class Filter:
    """Which messages to keep."""

    types: frozenset[str] | None = None
    nodes: frozenset[str] | None = None

    def keeps(self, msg: Message) -> bool:
        """Whether ``msg`` passes the type and node filters."""
        if self.types is not None and msg.kind.label not in self.types:
            return False
        if self.nodes is None:
            return True
        target = getattr(msg, "target", None)
        return msg.node in self.nodes or target in self.nodes

    @property
    def needs_members(self) -> bool:
        """Whether members' PUBs must be dialled for what is kept."""
        return self.types is None or bool(self.types & NODE_TYPES)


def json_line(msg: Message) -> str:
    """One message as a compact JSON object."""
    return json.dumps(as_dict(msg), separators=(",", ":"), ensure_ascii=False)


def run_sniff(
    coordinator: str,
    net: NetworkConfig,
    keep: Filter,
    *,
    count: int | None,
    duration_s: float | None,
    out: TextIO = sys.stdout,
) -> int:
    """Print messages until ``count`` were printed, time is up, or stopped.

    Returns 0, or 1 when ``count`` was not reached before ``duration_s``.
    """
    tap = Tap(coordinator, net, dial_members=keep.needs_members)
    stop = StopFlag()
    stop.install()
    end = float("inf") if duration_s is None else time.monotonic() + duration_s
    printed = 0
    bad = 0
    try:
        while stop.reason is None and time.monotonic() < end:
            for arrival in tap.poll(0.1):
                if arrival.msg is None:
                    bad += 1
                    continue
                if not keep.keeps(arrival.msg):
                    continue
                out.write(json_line(arrival.msg) + "\n")
                printed += 1
                if count is not None and printed >= count:
                    break
            out.flush()
            if count is not None and printed >= count:
                break
    except BrokenPipeError:
        return 0
    finally:
        tap.close()
    if bad:
        print(f"sniff: {bad} frames did not decode", file=sys.stderr)
    if count is not None and printed < count:
        return EXIT_COUNT_NOT_REACHED
    return 0
