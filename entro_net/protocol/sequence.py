"""Sequence numbers: numbering what a sender sends, and checking what arrives.

Sequence numbers count per sender and per message type, from 0, so that a
subscriber that filters on some types only still sees a gap-free stream.
A sender's incarnation grows at every start: a message with a newer
incarnation marks a restart, one with an older incarnation is stale.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum

from entro_net.config import MAX_TRACKED_SENDERS
from entro_net.protocol.messages import MessageType


class Sequencer:
    """The sending side: hands out the next ``seq`` for each message type."""

    def __init__(self) -> None:
        self._next: dict[MessageType, int] = {}

    def next_seq(self, kind: MessageType) -> int:
        """Return the seq for the next ``kind`` message (0, 1, 2, ...)."""
        seq = self._next.get(kind, 0)
        self._next[kind] = seq + 1
        return seq


class Verdict(StrEnum):
    """What the tracker made of one arriving message."""

    NEW = "new"
    IN_ORDER = "in_order"
    GAP = "gap"
    RESTART = "restart"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    STALE = "stale"

    @property
    def is_accepted(self) -> bool:
        """Whether a message with this verdict should be used."""
        return self not in _REFUSED


_REFUSED = frozenset({Verdict.DUPLICATE, Verdict.OUT_OF_ORDER, Verdict.STALE})


@dataclass
class SenderStats:
    """What one sender's stream looked like so far (over its incarnations)."""

    incarnation: int
    received: int = 0
    missing: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    stale: int = 0
    restarts: int = 0
    last_seq: dict[MessageType, int] = field(default_factory=dict)


class SequenceTracker:
    """The receiving side: classifies each message by sender, type and seq.

    The first message of a type from a sender is taken as it comes (a late
    subscriber cannot know what came before). Then ``seq`` must grow: a jump
    counts the messages missed; an equal seq is a duplicate, a smaller one
    out of order. A newer incarnation, or seq 0 after a higher seq, is a
    restart that starts the count again. At most ``max_senders`` senders
    are remembered; the one heard from least recently is forgotten first.
    """

    def __init__(self, max_senders: int = MAX_TRACKED_SENDERS) -> None:
        self.max_senders = max_senders
        self.missing = 0
        """Messages missed in gaps, over all senders ever tracked."""
        self.restarts = 0
        """Sender restarts seen, over all senders ever tracked."""
        self._senders: OrderedDict[str, SenderStats] = OrderedDict()

    def observe(
        self, node: str, incarnation: int, kind: MessageType, seq: int
    ) -> Verdict:
        """Record one message and say what it was; see ``Verdict.is_accepted``."""
        stats = self._sender(node, incarnation)
        if incarnation < stats.incarnation:
            stats.stale += 1
            return Verdict.STALE

        verdict = Verdict.IN_ORDER
        last = stats.last_seq.get(kind)
        if incarnation > stats.incarnation or (seq == 0 and last):
            self._restart(stats, incarnation)
            verdict, last = Verdict.RESTART, None
        if last is None:
            verdict = Verdict.NEW if verdict is Verdict.IN_ORDER else verdict
        elif seq == last:
            stats.duplicates += 1
            return Verdict.DUPLICATE
        elif seq < last:
            stats.out_of_order += 1
            return Verdict.OUT_OF_ORDER
        elif seq > last + 1:
            stats.missing += seq - last - 1
            self.missing += seq - last - 1
            verdict = Verdict.GAP

        stats.last_seq[kind] = seq
        stats.received += 1
        return verdict

    def stats(self, node: str) -> SenderStats | None:
        """The stats of ``node``, or None if it is not (or no longer) tracked."""
        return self._senders.get(node)

    def senders(self) -> tuple[str, ...]:
        """The node ids tracked now, least recently heard first."""
        return tuple(self._senders)

    def forget(self, node: str) -> None:
        """Stop tracking ``node`` (e.g. once it left); unknown ids are ignored."""
        self._senders.pop(node, None)

    def _sender(self, node: str, incarnation: int) -> SenderStats:
        stats = self._senders.get(node)
        if stats is None:
            stats = SenderStats(incarnation=incarnation)
            self._senders[node] = stats
            if len(self._senders) > self.max_senders:
                self._senders.popitem(last=False)
        else:
            self._senders.move_to_end(node)
        return stats

    def _restart(self, stats: SenderStats, incarnation: int) -> None:
        stats.incarnation = incarnation
        stats.last_seq.clear()
        stats.restarts += 1
        self.restarts += 1
