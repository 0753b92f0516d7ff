"""CURVE key pairs on disk, in pyzmq's certificate format.

``entro-net keys generate DIR`` writes them; a process loads its own pair
from ``--curve-secret``, the coordinator's public key from
``--coordinator-key`` and the allow list from ``--allow``. Only public keys
ever leave the machine that made them; secret files are created 0600.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

from entro_net.errors import ConfigError

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
COORDINATOR_NAME = "coordinator"
ALLOWED_DIR = "allowed"
OBSERVERS_DIR = "observers"
"""Inside the allow list: keys that may listen (watch, sniff) but not join."""

Z85_KEY_CHARS = 40
_Z85_RE = re.compile(r"^[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}\Z")
_BANNER = "#   ENTRO-NET CURVE {kind} certificate (pyzmq format), {when}\n#   {note}\n"


def is_z85_key(text: str) -> bool:
    """Whether ``text`` is a CURVE key in Z85 text (40 characters)."""
    return _Z85_RE.match(text) is not None


def node_key_name(index: int) -> str:
    """The file stem of node ``index``'s key pair: ``node-INDEX``."""
    return f"node-{index}"


def observer_key_name(index: int) -> str:
    """The file stem of observer ``index``'s key pair: ``observer-INDEX``."""
    return f"observer-{index}"


@dataclass(frozen=True)
class KeyPair:
    """One process's CURVE keys, Z85 text as bytes (what pyzmq takes)."""

    public: bytes
    secret: bytes

    @property
    def public_text(self) -> str:
        """The public key as text, for logs and messages."""
        return self.public.decode("ascii")


@dataclass(frozen=True)
class AllowList:
    """Public keys allowed in: nodes may join and listen, observers only listen."""

    nodes: frozenset[bytes] = frozenset()
    observers: frozenset[bytes] = frozenset()

    @property
    def everyone(self) -> frozenset[bytes]:
        """Nodes and observers."""
        return self.nodes | self.observers


def _read(path: Path, flag: str) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{flag} {path}: not a readable CURVE certificate ({exc}); "
            "make keys with `entro-net keys generate DIR`"
        ) from exc
    for key in (public, secret):
        if key is not None and not is_z85_key(key.decode("ascii", "replace")):
            raise ConfigError(f"{flag} {path}: a key is not 40 Z85 characters")
    return public, secret


def load_keypair(path: str | Path, flag: str = "--curve-secret") -> KeyPair:
    """This process's key pair from its ``.key_secret`` file.

    Raises:
        ConfigError: the file is missing, malformed or holds no secret key.
    """
    public, secret = _read(Path(path), flag)
    if secret is None:
        raise ConfigError(
            f"{flag} {path}: holds only a public key; give the {SECRET_SUFFIX} file"
        )
    return KeyPair(public, secret)


def load_public_key(path: str | Path, flag: str = "--coordinator-key") -> bytes:
    """A public key from a ``.key`` (or ``.key_secret``) file.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    public, _ = _read(Path(path), flag)
    return public


def load_key_dir(directory: Path) -> frozenset[bytes]:
    """The public keys of every ``*.key`` file directly inside ``directory``."""
    if not directory.is_dir():
        return frozenset()
    return frozenset(
        load_public_key(path, "--allow")
        for path in sorted(directory.glob("*" + PUBLIC_SUFFIX))
        if path.is_file()
    )


def load_allow_list(directory: str | Path) -> AllowList:
    """Node keys in ``directory``, observer keys in its ``observers/``.

    Raises:
        ConfigError: ``directory`` is not a directory, or a key file is bad.
    """
    base = Path(directory)
    if not base.is_dir():
        raise ConfigError(
            f"--allow {base}: not a directory; give the allowed/ directory "
            "that `entro-net keys generate DIR` made"
        )
    return AllowList(load_key_dir(base), load_key_dir(base / OBSERVERS_DIR))


def write_certificate(path: Path, public: bytes, secret: bytes | None = None) -> None:
    """Write one certificate; a secret one readable by its owner only.

    Raises:
        FileExistsError: ``path`` exists (keys are never overwritten).
    """
    kind = "secret" if secret is not None else "public"
    note = (
        "keep this file private: it proves who you are"
        if secret is not None
        else "public: hand it to whoever must let you in"
    )
    lines = [
        _BANNER.format(kind=kind, when=datetime.datetime.now().isoformat(), note=note),
        "metadata\n",
        "curve\n",
        f'    public-key = "{public.decode("ascii")}"\n',
    ]
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode("ascii")}"\n')
    mode = 0o600 if secret is not None else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("".join(lines))


def _ensure_pair(directory: Path, name: str, created: list[Path]) -> bytes:
    secret_path = directory / (name + SECRET_SUFFIX)
    public_path = directory / (name + PUBLIC_SUFFIX)
    if secret_path.exists():
        public = load_keypair(secret_path, "keys generate").public
    else:
        public, secret = zmq.curve_keypair()
        write_certificate(secret_path, public, secret)
        created.append(secret_path)
    if not public_path.exists():
        write_certificate(public_path, public)
        created.append(public_path)
    return public


def _ensure_public(path: Path, public: bytes, created: list[Path]) -> None:
    if not path.exists():
        write_certificate(path, public)
        created.append(path)


def generate_keys(directory: str | Path, nodes: int, observers: int) -> list[Path]:
    """Make the coordinator's, ``nodes`` nodes' and ``observers`` observers' keys.

    Layout: ``coordinator``, ``node-I`` and ``observer-J`` pairs
    (``.key`` public, ``.key_secret`` secret), ``allowed/node-I.key`` and
    ``allowed/observers/observer-J.key``. Existing keys are kept, so running
    it again with a larger ``nodes`` adds keys for the new nodes only.

    Returns:
        The files written, in order.

    Raises:
        ConfigError: a negative count, or an existing key file is bad.
    """
    if nodes < 0 or observers < 0:
        raise ConfigError("keys generate: --nodes and --observers must be >= 0")
    base = Path(directory)
    allowed = base / ALLOWED_DIR
    watchers = allowed / OBSERVERS_DIR
    for folder in (base, allowed, watchers):
        folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        base.chmod(0o700)

    created: list[Path] = []
    _ensure_pair(base, COORDINATOR_NAME, created)
    for index in range(nodes):
        name = node_key_name(index)
        public = _ensure_pair(base, name, created)
        _ensure_public(allowed / (name + PUBLIC_SUFFIX), public, created)
    for index in range(observers):
        name = observer_key_name(index)
        public = _ensure_pair(base, name, created)
        _ensure_public(watchers / (name + PUBLIC_SUFFIX), public, created)
    return created
