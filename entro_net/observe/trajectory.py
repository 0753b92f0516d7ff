"""What a recording says about a run: per-node series by step, network figures.

Sans-IO: records in, series out. A state of step k carries the raw reading
of step k; its synced value Ψ, weights and isolated flag belong to step k
with the free clock and to step k − 1 with the lockstep clock (the state is
sent before the round's sync; see docs/PROTOCOL.md), so ``load_run`` needs
the clock (from the recording's meta file). A threshold message of step
k + 1 carries Var and V_net of step k and the θ_net in force from k + 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from entro_net.config import MAX_MESSAGE_BYTES, Clock
from entro_net.errors import ProtocolError
from entro_net.observe.record import read_meta
from entro_net.protocol import (
    Isolate,
    Message,
    Readmit,
    SequenceTracker,
    State,
    Threshold,
    decode,
)
from entro_net.recording import ReadStats, Record, read_recording


@dataclass
class NodeSeries:
    """One node's values by step, as its state messages carried them."""

    node: str
    psi_raw: dict[int, float] = field(default_factory=dict)
    psi: dict[int, float] = field(default_factory=dict)
    weights: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    isolated: dict[int, bool] = field(default_factory=dict)
    states: int = 0

    def steps(self) -> list[int]:
        """The steps with a synced value, in order."""
        return sorted(self.psi)


@dataclass
class NetworkSeries:
    """The coordinator's figures by step (from its threshold messages)."""

    var: dict[int, float] = field(default_factory=dict)
    v_net: dict[int, float] = field(default_factory=dict)
    theta_net: dict[int, float] = field(default_factory=dict)
    n_taking_part: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """One isolate or readmit decision as recorded."""

    node: str
    step: int
    epoch: int
    kind: str
    ts: float


@dataclass
class RecordedRun:
    """Everything ``load_run`` read from a recording."""

    clock: Clock
    model: dict[str, Any]
    nodes: dict[str, NodeSeries] = field(default_factory=dict)
    network: NetworkSeries = field(default_factory=NetworkSeries)
    decisions: list[Decision] = field(default_factory=list)
    records: int = 0
    undecodable: int = 0
    torn_tail_bytes: int = 0
    first_ts: float | None = None
    last_ts: float | None = None

    @property
    def psi_critical(self) -> float:
        """Ψ_critical of the run's model (0.8 when the meta file is missing)."""
        return float(self.model.get("psi_critical", 0.8))

    def isolation_spans(self, node: str) -> list[tuple[int, int | None]]:
        """Steps ``[start, end)`` during which ``node`` was isolated (end None:
        still isolated at the end of the recording)."""
        spans: list[tuple[int, int | None]] = []
        start: int | None = None
        for d in sorted(self.decisions, key=lambda d: d.epoch):
            if d.node != node:
                continue
            if d.kind == "isolate" and start is None:
                start = d.step
            elif d.kind == "readmit" and start is not None:
                spans.append((start, d.step))
                start = None
        if start is not None:
            spans.append((start, None))
        return spans


def decode_records(
    records: Iterable[Record], max_bytes: int = MAX_MESSAGE_BYTES
) -> Iterable[tuple[float, Message | None]]:
    """Each record's time and message (None: the frame does not decode)."""
    for record in records:
        try:
            yield record.ts, decode(record.frame, max_bytes)
        except ProtocolError:
            yield record.ts, None


class RunBuilder:
    """Folds decoded messages into a ``RecordedRun``, one at a time."""

    def __init__(self, clock: Clock, model: dict[str, Any]) -> None:
        self.run = RecordedRun(clock=clock, model=model)
        self.shift = 1 if clock is Clock.LOCKSTEP else 0
        self.sequence = SequenceTracker()
        self.decided: set[tuple[str, int, str]] = set()

    def add(self, ts: float, msg: Message | None) -> None:
        """Take in one recorded message (None: a frame that did not decode)."""
        run = self.run
        run.records += 1
        run.first_ts = ts if run.first_ts is None else run.first_ts
        run.last_ts = ts
        if msg is None:
            run.undecodable += 1
            return
        verdict = self.sequence.observe(msg.node, msg.incarnation, msg.kind, msg.seq)
        if not verdict.is_accepted:
            return
        if isinstance(msg, State):
            self._state(msg)
        elif isinstance(msg, Threshold):
            step = msg.step - 1
            run.network.var[step] = msg.var
            run.network.v_net[step] = msg.v_net
            run.network.n_taking_part[step] = msg.n_taking_part
            run.network.theta_net[msg.step] = msg.theta_net
        elif isinstance(msg, Isolate | Readmit):
            kind = "isolate" if isinstance(msg, Isolate) else "readmit"
            # The coordinator repeats its latest decisions: keep each once.
            if (msg.target, msg.epoch, kind) in self.decided:
                return
            self.decided.add((msg.target, msg.epoch, kind))
            run.decisions.append(Decision(msg.target, msg.step, msg.epoch, kind, ts))

    def _state(self, msg: State) -> None:
        series = self.run.nodes.get(msg.node)
        if series is None:
            series = NodeSeries(msg.node)
            self.run.nodes[msg.node] = series
        series.states += 1
        series.psi_raw[msg.step] = msg.psi_raw
        step = msg.step - self.shift
        if self.shift and (step not in series.psi_raw):
            # The first lockstep state carries starting values, not a step's.
            return
        series.psi[step] = msg.psi
        series.weights[step] = msg.weights
        series.isolated[step] = msg.isolated


def load_run(
    path: str | os.PathLike[str], *, clock: Clock | None = None
) -> RecordedRun:
    """Read a whole recording (its rotated files first) into series.

    Args:
        path: the recording (``--record FILE``).
        clock: how to read states; default: the meta file's, else free.

    Raises:
        RecordingError: no such recording, or not a recording.
    """
    meta = read_meta(path)
    chosen = clock or Clock(meta.get("clock", Clock.FREE.value))
    builder = RunBuilder(chosen, dict(meta.get("model", {})))
    stats = ReadStats()
    for ts, msg in decode_records(read_recording(path, stats=stats)):
        builder.add(ts, msg)
    builder.run.torn_tail_bytes = stats.torn_tail_bytes
    return builder.run
