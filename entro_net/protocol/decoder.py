"""The receive boundary: frames in, checked messages or counted drops out.

A peer's bad message is its fault, not ours: ``Decoder.feed`` never raises.
It decodes, then (when told how) checks the claimed sender, the sender's
rate and its sequence numbers, and drops what fails with a ``DropReason``.
Use one Decoder per socket: the same message arriving on two sockets (a
heartbeat on the ROUTER and its copy on a PUB) would otherwise count as a
duplicate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable

from entro_net.config import MAX_MESSAGE_BYTES
from entro_net.errors import ProtocolError
from entro_net.protocol.codec import DropReason, decode
from entro_net.protocol.identity import SenderBinding
from entro_net.protocol.messages import Message
from entro_net.protocol.ratelimit import FloodGuard
from entro_net.protocol.sequence import SequenceTracker, Verdict

_VERDICT_REASON = {
    Verdict.DUPLICATE: DropReason.DUPLICATE,
    Verdict.OUT_OF_ORDER: DropReason.OUT_OF_ORDER,
    Verdict.STALE: DropReason.STALE,
}


class Decoder:
    """Decodes frames from one socket, counting every drop by reason.

    Args:
        max_bytes: frames longer than this are dropped as ``oversize``.
        track_sequence: drop duplicates, out-of-order and stale messages and
            count gaps (``self.sequence``); off, every valid message passes.
        flood: the per-sender rate limit applied when ``feed`` gets ``now``
            and no ``expect_node`` (default: ``FloodGuard()`` with the config
            limits); to go without one, do not pass ``now``.

    Attributes:
        drops: drops so far by reason (a Counter, so absent reasons read 0).
        received: frames fed. accepted: messages returned.
        last_drop: why the last ``feed`` returned None, else None.
        sequence: the sequence tracker, None when not tracking.
        binding: which node each connection speaks for (see ``feed``).
    """

    def __init__(
        self,
        *,
        max_bytes: int = MAX_MESSAGE_BYTES,
        track_sequence: bool = True,
        flood: FloodGuard | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.flood = flood if flood is not None else FloodGuard()
        self.sequence = SequenceTracker() if track_sequence else None
        self.binding = SenderBinding()
        self.drops: Counter[DropReason] = Counter()
        self.received = 0
        self.accepted = 0
        self.last_drop: DropReason | None = None

    @property
    def dropped(self) -> int:
        """Frames dropped so far, all reasons together."""
        return sum(self.drops.values())

    def feed(
        self,
        frame: bytes | bytearray | memoryview,
        *,
        now: float | None = None,
        expect_node: str | None = None,
        conn: Hashable | None = None,
    ) -> Message | None:
        """Decode one frame; return the message, or None if it was dropped.

        Args:
            frame: one received frame (prefix + body).
            now: the receiver's clock in seconds; enables the flood check.
            expect_node: the node this frame must come from (e.g. the peer a
                dedicated SUB socket dials); another claim is an ``impostor``.
                Such a link is exempt from the flood check: what it can hold
                is bounded by its queues, and a receiver that was paused must
                take the whole backlog of a member it waited for.
            conn: the connection it came on (e.g. a ROUTER routing id), checked
                against ``self.binding``; a mismatch is an ``impostor``.

        Never raises: every failure is counted in ``drops`` and named in
        ``last_drop``.
        """
        self.received += 1
        self.last_drop = None
        try:
            reason = self._check(frame, now, expect_node, conn)
        except ProtocolError as exc:
            reason = _as_reason(exc.reason)
        except Exception:
            reason = DropReason.GARBAGE
        if isinstance(reason, DropReason):
            self.drops[reason] += 1
            self.last_drop = reason
            return None
        self.accepted += 1
        return reason

    def _check(
        self,
        frame: bytes | bytearray | memoryview,
        now: float | None,
        expect_node: str | None,
        conn: Hashable | None,
    ) -> Message | DropReason:
        msg = decode(frame, self.max_bytes)
        if expect_node is not None and msg.node != expect_node:
            return DropReason.IMPOSTOR
        if conn is not None and not self.binding.check(conn, msg):
            return DropReason.IMPOSTOR
        # A link dialled to one member carries only that member's messages,
        # bounded by ZeroMQ's queues: its backlog after a pause is legitimate
        # and must not be dropped. The bucket guards links anyone may speak on.
        if (
            now is not None
            and expect_node is None
            and not self.flood.admit(msg.node, now)
        ):
            return DropReason.FLOOD
        if self.sequence is not None:
            verdict = self.sequence.observe(
                msg.node, msg.incarnation, msg.kind, msg.seq
            )
            if not verdict.is_accepted:
                return _VERDICT_REASON[verdict]
        return msg


def _as_reason(text: str) -> DropReason:
    try:
        return DropReason(text)
    except ValueError:
        return DropReason.GARBAGE
