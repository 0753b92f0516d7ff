"""One process's security around its sockets: CURVE options, ZAP, monitors.

The coordinator and the node loops own a ``Guard`` and call it at a few
points: ``serve`` before a socket binds, ``dial`` before a socket connects,
``connect`` to dial with a pinned key, ``handle`` on every wake-up (it
answers ZAP when ``sockets`` is readable and reads the monitors every
``MONITOR_CHECK_S``), ``user_key`` to learn which key sent a frame. In plaintext mode it
only watches the control link's handshakes, so a CURVE process that dials a
plaintext one (or the other way round) is named in both logs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Container

import zmq

from entro_net.config import CURVE_KEY_WAIT_S, MONITOR_CHECK_S, NetworkConfig
from entro_net.security.curve import Curve, Domain, Role, connect, dial_as, serve
from entro_net.security.handshake import Failure, HandshakeWatch
from entro_net.security.zap import ZapHandler

Vouched = Callable[[bytes], bool]
"""Whether a key belongs to a member the coordinator vouched for."""


class Guard:
    """CURVE settings, the ZAP handler and handshake monitors of one context.

    Args:
        ctx: the process's context (the ZAP handler binds in it at once,
            before any server socket binds).
        net: the keys (``curve_secret``, ``coordinator_key``, ``allow``).
        role: what the process is.

    Raises:
        ConfigError: bad or missing keys for the role.
    """

    def __init__(
        self, ctx: zmq.Context[zmq.Socket[bytes]], net: NetworkConfig, role: Role
    ) -> None:
        self.net = net
        self.curve = Curve.from_config(net, role)
        self.vouched: Vouched | None = None
        self.zap: ZapHandler | None = None
        if self.curve is not None:
            self.zap = ZapHandler(
                ctx,
                wait_s=CURVE_KEY_WAIT_S if role is Role.NODE else 0.0,
                warn_interval_s=net.warn_interval_s,
                policy=self._admits,
            )
        self.watches: dict[zmq.Socket[bytes], HandshakeWatch] = {}
        self.monitors_due = 0.0

    @property
    def is_secure(self) -> bool:
        """Whether this process speaks CURVE."""
        return self.curve is not None

    @property
    def coordinator_key(self) -> bytes | None:
        """The coordinator's public key to pin (None in plaintext)."""
        return None if self.curve is None else self.curve.coordinator_key

    @property
    def sockets(self) -> list[zmq.Socket[bytes]]:
        """What the loop must poll for ``handle``: the ZAP socket, whose
        requests hold handshakes up. Monitors are read on a timer
        (``MONITOR_CHECK_S``): each socket in a poll costs system calls on
        every wake-up of the loop."""
        return [] if self.zap is None else [self.zap.sock]

    def _admits(self, domain: str, key: bytes) -> bool | None:
        assert self.curve is not None
        if self.curve.admits(domain, key, time.monotonic()):
            return True
        if domain != Domain.NODE:
            return False
        if self.vouched is not None and self.vouched(key):
            return True
        return None  # the coordinator may vouch for it in a moment

    def serve(self, sock: zmq.Socket[bytes], domain: Domain, name: str) -> None:
        """Before ``sock`` binds: a CURVE server for ``domain``, watched."""
        if self.curve is not None:
            serve(sock, self.curve.own, domain)
        self.watch(sock, name, server=True, peer="client")

    def dial(
        self, sock: zmq.Socket[bytes], name: str, peer: str, *, watched: bool
    ) -> None:
        """Before ``sock`` connects: a CURVE client with this process's keys."""
        if self.curve is not None:
            dial_as(sock, self.curve.own)
        if watched:
            self.watch(sock, name, server=False, peer=peer)

    def watch(
        self, sock: zmq.Socket[bytes], name: str, *, server: bool, peer: str
    ) -> None:
        """Log the failed handshakes of ``sock``."""
        self.watches[sock] = HandshakeWatch(
            sock,
            name=name,
            server=server,
            secure=self.curve is not None,
            peer=peer,
            warn_interval_s=self.net.warn_interval_s,
        )

    def connect(
        self, sock: zmq.Socket[bytes], endpoint: str, key: bytes | str | None
    ) -> bool:
        """Dial ``endpoint`` pinning ``key``; False (not dialled) when secure
        and no key is known for it."""
        if self.curve is None:
            sock.connect(endpoint)
            return True
        if key is None:
            return False
        connect(sock, endpoint, key.encode("ascii") if isinstance(key, str) else key)
        return True

    def user_key(self, frame: zmq.Frame) -> str | None:
        """The CURVE key that sent ``frame`` (None in plaintext)."""
        if self.curve is None:
            return None
        with contextlib.suppress(zmq.ZMQError, KeyError):
            user = frame.get("User-Id")
            return str(user) if user else None
        return None

    def handle(
        self, now: float, ready: Container[zmq.Socket[bytes]] | None = None
    ) -> list[tuple[str, str, Failure]]:
        """Answer ZAP requests and, every ``MONITOR_CHECK_S``, read the
        monitors.

        Args:
            now: the current time.
            ready: the sockets a poll found readable: the ZAP socket is read
                only when in it (None: always). A read that finds nothing
                costs system calls and an exception.

        Returns:
            (socket name, endpoint, failure) for each failed handshake.
        """
        if self.zap is not None:
            if ready is None or self.zap.sock in ready:
                self.zap.handle(now)
            elif self.zap.pending:
                self.zap.retry(now)  # keys vouched for since, or waits over
        failures: list[tuple[str, str, Failure]] = []
        if now < self.monitors_due:
            return failures
        self.monitors_due = now + MONITOR_CHECK_S
        for watch in self.watches.values():
            for endpoint, failure in watch.drain(now):
                failures.append((watch.name, endpoint, failure))
        return failures

    def forget(self, sock: zmq.Socket[bytes]) -> None:
        """Stop watching ``sock`` (before it closes)."""
        watch = self.watches.pop(sock, None)
        if watch is not None:
            watch.close()

    def close(self) -> None:
        """Close the monitors and the ZAP handler (before the context ends)."""
        for watch in self.watches.values():
            watch.close()
        self.watches.clear()
        if self.zap is not None:
            self.zap.close()
            self.zap = None
