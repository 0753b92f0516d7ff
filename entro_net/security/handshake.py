"""Saying clearly why a connection's security handshake failed.

ZeroMQ drops a connection whose security does not match (CURVE against
plaintext, a wrong server key, a refused key) without telling the socket's
user; only the socket monitor sees it. ``HandshakeWatch`` reads a socket's
monitor, turns each failure into a log line that names the cause and the
fix, and hands the failures back so the caller can dial again where ZeroMQ
will not (it never retries after its key was refused).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import structlog
import zmq
from zmq.utils.monitor import parse_monitor_message

from entro_net.protocol import WarnLimiter

log = structlog.get_logger()

FAILURE_EVENTS = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
RECV_BATCH = 64
_MISMATCH = zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
_CRYPTOGRAPHIC = zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC


@dataclass(frozen=True)
class Failure:
    """One failed handshake, explained."""

    level: str
    event: str
    hint: str
    key_refused: bool = False
    """The other side refused our key (ZeroMQ will not dial again)."""


def explain(
    event: int, value: int, *, server: bool, secure: bool, peer: str
) -> Failure | None:
    """What a monitor's handshake event means, or None when not worth a line.

    Args:
        event: the monitor event (``zmq.EVENT_HANDSHAKE_FAILED_*``).
        value: its value (a ZMTP protocol error, or the ZAP status code).
        server: this socket accepts connections (binds) rather than dials.
        secure: this socket uses CURVE.
        peer: who is at the other end (``coordinator``, ``peer``, ``client``).
    """
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        if server:
            return None  # the ZAP handler logged the refused key already
        return Failure(
            "error",
            f"{peer}_refused_key",
            "the other side does not allow this process's key: add its public "
            "key file to the coordinator's allowed/ directory (nodes) or "
            "allowed/observers/ (watch, sniff)",
            key_refused=True,
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == _MISMATCH:
        return _mismatch(server=server, secure=secure, peer=peer)
    if server and value == _CRYPTOGRAPHIC:
        return Failure(
            "warning",
            "curve_handshake_failed",
            "a CURVE client dialled with a server key that is not this "
            "process's public key (check its --coordinator-key)",
        )
    if not server and secure:
        return Failure(
            "warning",
            f"{peer}_handshake_failed",
            "the CURVE handshake failed: check that --coordinator-key is the "
            "coordinator's public key and that both sides use CURVE",
        )
    return None


def _mismatch(*, server: bool, secure: bool, peer: str) -> Failure:
    if server and secure:
        return Failure(
            "warning",
            "plaintext_refused",
            "a client without CURVE dialled this secure socket and was refused; "
            "give it --curve-secret and --coordinator-key",
        )
    if server:
        return Failure(
            "warning",
            "curve_client_refused",
            "a client using CURVE dialled this plaintext socket; start this "
            "process with --curve-secret (and --allow), or drop the client's keys",
        )
    if secure:
        return Failure(
            "error",
            f"{peer}_not_secure",
            f"the {peer} does not use CURVE but this process does "
            "(--curve-secret): start it with --curve-secret too, or run this "
            "process without keys",
        )
    return Failure(
        "error",
        f"{peer}_requires_curve",
        f"the {peer} uses CURVE: give this process --curve-secret FILE and "
        "--coordinator-key FILE",
    )


class HandshakeWatch:
    """Reads one socket's monitor and logs its failed handshakes.

    Args:
        sock: the socket to watch (before it binds or connects).
        name: what the socket is, for the log (``control``, ``events``...).
        server: it binds and accepts; else it dials.
        secure: it uses CURVE.
        peer: who is at the other end of its connections.
        warn_interval_s: at most one line per cause and endpoint this often.
    """

    def __init__(
        self,
        sock: zmq.Socket[bytes],
        *,
        name: str,
        server: bool,
        secure: bool,
        peer: str,
        warn_interval_s: float,
    ) -> None:
        self.name = name
        self.server = server
        self.secure = secure
        self.peer = peer
        self.monitor: zmq.Socket[bytes] = sock.get_monitor_socket(FAILURE_EVENTS)
        self.warn = WarnLimiter(warn_interval_s)
        self.failures = 0

    def drain(self, now: float) -> list[tuple[str, Failure]]:
        """Read the monitor; log and return (endpoint, failure) pairs."""
        found: list[tuple[str, Failure]] = []
        for _ in range(RECV_BATCH):
            try:
                frames = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:
                break
            event = parse_monitor_message(frames)
            endpoint = bytes(event["endpoint"]).decode("utf-8", "replace")
            failure = explain(
                int(event["event"]),
                int(event["value"]),
                server=self.server,
                secure=self.secure,
                peer=self.peer,
            )
            if failure is None:
                continue
            self.failures += 1
            found.append((endpoint, failure))
            count = self.warn.admit(f"{failure.event} {endpoint}", now)
            if count:
                getattr(log, failure.level)(
                    failure.event,
                    socket=self.name,
                    endpoint=endpoint,
                    hint=failure.hint,
                    count=count,
                )
        return found

    def close(self) -> None:
        """Close the monitor socket."""
        with contextlib.suppress(zmq.ZMQError):
            self.monitor.close(linger=0)
