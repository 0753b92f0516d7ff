"""Which keys a process uses, and turning its sockets into CURVE sockets.

Secure mode is on when ``--curve-secret`` (``ENTRO_NET_CURVE_SECRET``) names
this process's key pair. Then every socket speaks CURVE: sockets that bind
(the coordinator's control and event sockets, a node's PUB) are CURVE
servers whose clients the allow list admits (``ZapHandler``), and sockets
that dial pin the public key of what they dial: the coordinator's from
``--coordinator-key``, a peer's from the membership the coordinator sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import structlog
import zmq

from entro_net.config import NetworkConfig
from entro_net.errors import ConfigError
from entro_net.security.keys import (
    AllowList,
    KeyPair,
    load_allow_list,
    load_keypair,
    load_public_key,
)

log = structlog.get_logger()

ALLOW_RELOAD_S = 1.0
"""The allow directory is read again for an unknown key at most this often."""


class Role(StrEnum):
    """What a process is, for what its keys must include."""

    COORDINATOR = "coordinator"
    NODE = "node"
    OBSERVER = "observer"


class Domain(StrEnum):
    """The ZAP domain of each CURVE server socket: whom it admits."""

    CONTROL = "control"
    """The coordinator's control socket: nodes of the allow list."""
    EVENTS = "events"
    """The coordinator's event stream: nodes and observers."""
    NODE = "node"
    """A node's PUB: the coordinator, the allow list and vouched members."""


@dataclass
class Curve:
    """One process's CURVE settings.

    Args:
        own: this process's key pair.
        coordinator_key: the coordinator's public key (dialling processes).
        allow_dir: the allow list's directory, read again as keys appear.
    """

    own: KeyPair
    coordinator_key: bytes | None = None
    allow_dir: Path | None = None

    def __post_init__(self) -> None:
        self.allowed = (
            load_allow_list(self.allow_dir) if self.allow_dir else AllowList()
        )
        self._reloaded = time.monotonic()

    @classmethod
    def from_config(cls, net: NetworkConfig, role: Role) -> Curve | None:
        """The settings ``net`` asks for; None when secure mode is off.

        Raises:
            ConfigError: a key file is bad, or a key this role needs is missing.
        """
        if net.curve_secret is None:
            if net.coordinator_key is not None or net.allow is not None:
                raise ConfigError(
                    "--coordinator-key and --allow need --curve-secret FILE "
                    "(this process's own key pair) to turn CURVE on"
                )
            return None
        own = load_keypair(net.curve_secret)
        coordinator_key = None
        if net.coordinator_key is not None:
            coordinator_key = load_public_key(net.coordinator_key)
        if role is Role.COORDINATOR:
            if coordinator_key is not None and coordinator_key != own.public:
                raise ConfigError(
                    f"--coordinator-key {net.coordinator_key} is not the public "
                    f"key of --curve-secret {net.curve_secret}"
                )
            if net.allow is None:
                raise ConfigError(
                    "a secure coordinator needs --allow DIR, the directory of the "
                    "node keys it lets in (allowed/ of `entro-net keys generate`)"
                )
            coordinator_key = own.public
        elif coordinator_key is None:
            raise ConfigError(
                f"a secure {role.value} needs --coordinator-key FILE, the "
                "coordinator's public key (coordinator.key)"
            )
        allow_dir = Path(net.allow) if net.allow is not None else None
        curve = cls(own, coordinator_key, allow_dir)
        if role is Role.COORDINATOR and not curve.allowed.nodes:
            log.warning(
                "allow_list_empty",
                allow=net.allow,
                hint="no node can join until its .key file is in this directory",
            )
        return curve

    def refresh(self, now: float) -> bool:
        """Read the allow directory again (rate limited); True if it changed."""
        if self.allow_dir is None or now - self._reloaded < ALLOW_RELOAD_S:
            return False
        self._reloaded = now
        try:
            fresh = load_allow_list(self.allow_dir)
        except ConfigError as exc:
            log.warning("allow_list_unreadable", error=str(exc))
            return False
        changed = fresh != self.allowed
        if changed:
            log.info(
                "allow_list_reloaded",
                nodes=len(fresh.nodes),
                observers=len(fresh.observers),
            )
        self.allowed = fresh
        return changed

    def admits(self, domain: str, key: bytes, now: float) -> bool:
        """Whether the allow list (read again if ``key`` is new) admits ``key``."""
        if self._static(domain, key):
            return True
        return self.refresh(now) and self._static(domain, key)

    def _static(self, domain: str, key: bytes) -> bool:
        if key == self.own.public:
            return True
        if domain == Domain.CONTROL:
            return key in self.allowed.nodes
        if domain == Domain.NODE and key == self.coordinator_key:
            return True
        return key in self.allowed.everyone


def serve(sock: zmq.Socket[bytes], keys: KeyPair, domain: Domain) -> None:
    """Make ``sock`` a CURVE server admitting whom ``domain``'s policy admits."""
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.ZAP_DOMAIN, domain.value.encode())


def dial_as(sock: zmq.Socket[bytes], keys: KeyPair) -> None:
    """Make ``sock`` a CURVE client with ``keys`` (before it connects)."""
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)


def connect(sock: zmq.Socket[bytes], endpoint: str, server_key: bytes | None) -> None:
    """Dial ``endpoint``, pinning ``server_key`` when given.

    ZeroMQ copies socket options into each connection when it is made, so
    one SUB socket can dial many servers, each with its own key.
    """
    if server_key is not None:
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
    sock.connect(endpoint)
