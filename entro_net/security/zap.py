"""The allow list at work: answering ZeroMQ's authentication (ZAP) requests.

Every CURVE server socket of a process asks, over the context's inproc ZAP
endpoint, whether a client's key may connect. ``ZapHandler`` answers in the
process's own poll loop (no thread): at once when its policy knows the key,
later when the policy cannot tell yet (a node hears of a new peer a moment
after the peer hears of it, so that key waits up to ``wait_s``), and no when
the wait is over. A refused client is not reconnected by ZeroMQ. Every
refusal is logged with the key, the client's address and the socket, at a
bounded rate per key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import zmq
import zmq.utils.z85

from entro_net.protocol import WarnLimiter

log = structlog.get_logger()

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_VERSION = b"1.0"
CURVE_KEY_BYTES = 32
MAX_PENDING = 256
"""Requests held at once; beyond that an unknown key is refused at once."""
MAX_REMEMBERED_KEYS = 4096
RECV_BATCH = 256

Policy = Callable[[str, bytes], bool | None]
"""(socket domain, client key in Z85) -> allow, refuse, or None: not known yet."""


@dataclass(frozen=True)
class ZapRequest:
    """One ZAP request: which socket, who asks, from where, with which key."""

    envelope: tuple[bytes, ...]
    request_id: bytes
    domain: str
    address: str
    mechanism: str
    key: bytes | None
    """The client's CURVE public key in Z85 (None for other mechanisms)."""


def parse_request(frames: list[bytes]) -> ZapRequest | None:
    """Read a request off a ROUTER: ``[id, b"", version, request id, ...]``.

    Returns None for anything that is not a version 1.0 ZAP request.
    """
    try:
        split = frames.index(b"")
    except ValueError:
        return None
    body = frames[split + 1 :]
    if len(body) < 6 or body[0] != ZAP_VERSION:
        return None
    mechanism = body[5].decode("ascii", "replace")
    key = None
    if mechanism == "CURVE" and len(body) >= 7 and len(body[6]) == CURVE_KEY_BYTES:
        key = zmq.utils.z85.encode(body[6])
    return ZapRequest(
        envelope=tuple(frames[: split + 1]),
        request_id=body[1],
        domain=body[2].decode("utf-8", "replace"),
        address=body[3].decode("utf-8", "replace"),
        mechanism=mechanism,
        key=key,
    )


def reply_frames(request: ZapRequest, allowed: bool, text: str) -> list[bytes]:
    """The reply to ``request``: 200 with the key as user id, or 400."""
    status = b"200" if allowed else b"400"
    user = request.key if allowed and request.key is not None else b""
    return [
        *request.envelope,
        ZAP_VERSION,
        request.request_id,
        status,
        text.encode(),
        user,
        b"",
    ]


class ZapHandler:
    """Answers one context's ZAP requests from the caller's poll loop.

    Bind it before any CURVE server socket of the context binds: without a
    handler ZeroMQ lets every client in.

    Args:
        ctx: the context whose sockets it answers for.
        wait_s: how long a key the policy does not know yet may wait.
        warn_interval_s: at most one refusal line per key this often.
        policy: decides; may be set later (requests wait until it is).
    """

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        *,
        wait_s: float,
        warn_interval_s: float,
        policy: Policy | None = None,
    ) -> None:
        self.policy = policy
        self.wait_s = wait_s
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(ZAP_ENDPOINT)
        self.pending: list[tuple[ZapRequest, float]] = []
        self.allowed = 0
        self.refused: dict[str, int] = {}
        """Refusals per key (Z85 text, or the mechanism's name)."""
        self.warn = WarnLimiter(warn_interval_s)

    def handle(self, now: float | None = None) -> None:
        """Read every waiting request and answer what can be answered."""
        now = time.monotonic() if now is None else now
        for _ in range(RECV_BATCH):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            request = parse_request(frames)
            if request is None:
                log.warning("zap_request_malformed", frames=len(frames))
                continue
            self._decide(request, now + self.wait_s, now)
        self.retry(now)

    def retry(self, now: float | None = None) -> None:
        """Answer held requests whose key is now known, or whose wait is over."""
        now = time.monotonic() if now is None else now
        held, self.pending = self.pending, []
        for request, deadline in held:
            self._decide(request, deadline, now)

    def _decide(self, request: ZapRequest, deadline: float, now: float) -> None:
        if request.key is None:
            self._answer(request, False, f"{request.mechanism} is not CURVE", now)
            return
        verdict = (
            None if self.policy is None else self.policy(request.domain, request.key)
        )
        if verdict is None and now < deadline and len(self.pending) < MAX_PENDING:
            self.pending.append((request, deadline))
            return
        if verdict is None:
            reason = f"key not vouched for within {self.wait_s:g} s"
        else:
            reason = "allowed" if verdict else "key not in the allow list"
        self._answer(request, bool(verdict), reason, now)

    def _answer(
        self, request: ZapRequest, allowed: bool, reason: str, now: float
    ) -> None:
        try:
            self.sock.send_multipart(
                reply_frames(request, allowed, reason), zmq.NOBLOCK
            )
        except zmq.ZMQError as exc:
            log.warning("zap_reply_failed", error=str(exc))
            return
        key = request.key.decode("ascii") if request.key is not None else None
        if allowed:
            self.allowed += 1
            log.debug(
                "curve_allowed", socket=request.domain, key=key, address=request.address
            )
            return
        label = key or request.mechanism
        if label not in self.refused and len(self.refused) >= MAX_REMEMBERED_KEYS:
            self.refused.clear()
            self.warn = WarnLimiter(self.warn.interval_s)
        self.refused[label] = self.refused.get(label, 0) + 1
        count = self.warn.admit(f"{request.domain} {label}", now)
        if count:
            log.warning(
                "curve_refused",
                socket=request.domain,
                key=key,
                address=request.address,
                reason=reason,
                count=count,
            )

    def close(self) -> None:
        """Refuse what still waits and close the socket."""
        for request, _ in self.pending:
            self._answer(request, False, "shutting down", time.monotonic())
        self.pending = []
        self.sock.close(linger=0)
