"""The hub: the coordinator relays the nodes' states to every node in batches.

In a full mesh every node receives N−1 messages a tick, and a delivery costs
wake-ups and system calls far more than decoding. With the hub topology the
coordinator, which receives every state anyway, gathers them and publishes
one batch frame (protocol/batch.py) to all nodes: a batch goes out as soon as
every stepping member delivered a state since the last batch, or when the
oldest state waiting is ``wait_s`` old, so a slow node delays the others by
at most that. Nodes of the free clock tick on a shared time grid, so one
tick's states arrive together and usually leave in one batch.

Sans-IO: states and the time in, frames out.
"""

from __future__ import annotations

from typing import Any

from entro_net.protocol import State
from entro_net.protocol.batch import encode_batch, records_per_frame, state_row


class StateHub:
    """Gathers states and leaves; says when a batch is due and builds it.

    Args:
        node: the id the coordinator signs its batches with.
        incarnation: the coordinator's incarnation.
        wait_s: longest a state waits for the rest of its tick.
        max_bytes: the largest frame; bigger batches are split.
    """

    def __init__(
        self, node: str, incarnation: int, wait_s: float, max_bytes: int
    ) -> None:
        self.node = node
        self.incarnation = incarnation
        self.wait_s = wait_s
        self.rows_per_frame = records_per_frame(max_bytes)
        self.seq = 0
        self.rows: list[tuple[Any, ...]] = []
        self.heard: set[int] = set()
        self.leaves: list[tuple[int, int]] = []
        self.oldest: float | None = None
        self.batches = 0
        self.relayed = 0

    def add(self, index: int, msg: State, now: float) -> None:
        """A member's state, to go out in the next batch."""
        self.rows.append(state_row(index, msg))
        self.heard.add(index)
        if self.oldest is None:
            self.oldest = now

    def add_leave(self, index: int, incarnation: int, now: float) -> None:
        """A member left after the states gathered so far."""
        self.leaves.append((index, incarnation))
        if self.oldest is None:
            self.oldest = now

    def deadline(self) -> float | None:
        """When the waiting states must go out at the latest (None: none wait)."""
        return None if self.oldest is None else self.oldest + self.wait_s

    def is_due(self, now: float, stepping: int) -> bool:
        """Whether to publish now: every stepping member heard, a leave, or
        the oldest state has waited ``wait_s``."""
        if self.oldest is None:
            return False
        return (
            len(self.heard) >= stepping
            or bool(self.leaves)
            or now >= self.oldest + self.wait_s
        )

    def take(self, now: float) -> list[bytes]:
        """The frames of the batch (several when it is too big for one)."""
        frames = []
        rows = self.rows
        for start in range(0, max(len(rows), 1), self.rows_per_frame):
            chunk = rows[start : start + self.rows_per_frame]
            last = start + self.rows_per_frame >= len(rows)
            frames.append(
                encode_batch(
                    self.node,
                    self.incarnation,
                    self.seq,
                    now,
                    chunk,
                    self.leaves if last else None,
                )
            )
            self.seq += 1
        self.batches += len(frames)
        self.relayed += len(rows)
        self.rows = []
        self.heard = set()
        self.leaves = []
        self.oldest = None
        return frames
