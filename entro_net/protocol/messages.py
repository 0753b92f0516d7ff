"""The messages ENTRO-NET processes exchange, as typed values.

Every message carries the same header: protocol version ``v``, sender
``node``, the sender's ``incarnation``, a ``seq`` number counted per sender
and per message type, and ``ts`` (seconds on the sender's clock, passed in
by the caller; this package never reads a clock). Control messages are
frozen pydantic models; the state message, sent many times a second by every
node, is a plain ``NamedTuple`` checked by hand in the codec because pydantic
validation would cost more than the decoding itself.
"""

from __future__ import annotations

import re
from enum import Enum, StrEnum
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from entro_net.config import NODE_ID_MAX_CHARS, PROTOCOL_VERSION

INT_MAX = 2**63 - 1
"""The largest integer a header or counter field may hold (int64 on the wire)."""

ENDPOINT_MAX_CHARS = 256
REASON_MAX_CHARS = 256
FINGERPRINT_MAX_CHARS = 128

_NODE_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._:@-]{{0,{NODE_ID_MAX_CHARS - 1}}}$"
_NODE_ID_RE = re.compile(_NODE_ID_PATTERN.replace("$", r"\Z"))
_ENDPOINT_PATTERN = r"^tcp://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$"
_ENDPOINT_RE = re.compile(_ENDPOINT_PATTERN.replace("$", r"\Z"))
_CURVE_KEY_PATTERN = r"^[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$"


class MessageType(Enum):
    """Message types; each value is the one-byte ASCII prefix of its frames.

    A SUB socket subscribes to a type by subscribing to its prefix.
    """

    HELLO = b"E"
    WELCOME = b"W"
    HEARTBEAT = b"H"
    STATE = b"S"
    THRESHOLD = b"T"
    ISOLATE = b"I"
    READMIT = b"R"
    LEAVE = b"L"
    MEMBERSHIP = b"M"

    @property
    def prefix(self) -> bytes:
        """The bytes a frame of this type starts with."""
        return self.value

    @property
    def label(self) -> str:
        """The lower-case name used in logs and JSON (``"state"``)."""
        return self.name.lower()


class NodeState(StrEnum):
    """A node's own state, as its heartbeats report it."""

    JOINING = "joining"
    ACTIVE = "active"
    ISOLATED = "isolated"
    LEAVING = "leaving"


class MemberStatus(StrEnum):
    """The coordinator's view of a member."""

    ALIVE = "alive"
    SUSPECT = "suspect"
    DEAD = "dead"


def is_valid_node_id(text: str) -> bool:
    """Whether ``text`` may be used as a node id on the wire.

    A node id is 1 to ``NODE_ID_MAX_CHARS`` characters: ASCII letters,
    digits and ``. _ : @ -``, starting with a letter or digit.
    """
    return _NODE_ID_RE.match(text) is not None


def is_valid_endpoint(text: str) -> bool:
    """Whether ``text`` is an endpoint a peer may dial: ``tcp://HOST:PORT``.

    HOST is a host name, an IPv4 address or a bracketed IPv6 address;
    PORT is 1..65535.
    """
    if len(text) > ENDPOINT_MAX_CHARS or _ENDPOINT_RE.match(text) is None:
        return False
    port = int(text.rsplit(":", 1)[1])
    return 1 <= port <= 65535


NodeId = Annotated[
    str, StringConstraints(pattern=_NODE_ID_PATTERN, max_length=NODE_ID_MAX_CHARS)
]
Count = Annotated[int, Field(ge=0, le=INT_MAX)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Weights = tuple[Finite, Finite, Finite]
CurveKey = Annotated[str, StringConstraints(pattern=_CURVE_KEY_PATTERN)]
"""A CURVE public key in Z85 text: 40 characters."""


def _check_endpoint(text: str) -> str:
    if not is_valid_endpoint(text):
        raise ValueError(
            f"endpoint must be tcp://HOST:PORT with PORT 1..65535: {text!r}"
        )
    return text


class _Frozen(BaseModel):
    """Strict, frozen, closed: what the wire says must match exactly."""

    model_config = ConfigDict(
        frozen=True, strict=True, extra="forbid", allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _lists_to_tuples(cls, data: Any) -> Any:
        # msgpack decodes arrays as lists; our sequence fields are tuples.
        if isinstance(data, dict):
            return {
                key: tuple(value) if isinstance(value, list) else value
                for key, value in data.items()
            }
        return data


class _KeyedPeer(_Frozen):
    """A member or peer entry: ``key`` is written only when it is set.

    Plaintext networks leave it out, so their frames are what they were
    before secure mode existed.
    """

    @model_serializer(mode="wrap")
    def _drop_null_key(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("key", "") is None:
            del data["key"]
        return data


class PeerInfo(_KeyedPeer):
    """A peer a late joiner should dial: its id, PUB endpoint, incarnation.

    ``index`` is the peer's place in the network's node vectors (or null);
    ``key`` its CURVE public key, which a secure node pins when it dials.
    """

    node: NodeId
    endpoint: Annotated[str, Field(max_length=ENDPOINT_MAX_CHARS)]
    incarnation: Count
    index: Count | None = None
    key: CurveKey | None = None

    @model_validator(mode="after")
    def _endpoint_ok(self) -> PeerInfo:
        _check_endpoint(self.endpoint)
        return self


class Member(_KeyedPeer):
    """One member in the coordinator's membership list.

    ``index`` is the member's place in the network's node vectors; ``since``
    the first step it takes part in (null: not started yet); ``key`` its CURVE
    public key in a secure network (the key it joined with).
    """

    node: NodeId
    endpoint: Annotated[str, Field(max_length=ENDPOINT_MAX_CHARS)]
    incarnation: Count
    status: MemberStatus = Field(strict=False)
    index: Count | None = None
    since: Count | None = None
    key: CurveKey | None = None

    @model_validator(mode="after")
    def _endpoint_ok(self) -> Member:
        _check_endpoint(self.endpoint)
        return self


class ControlMessage(_Frozen):
    """Header shared by every control message (all but state)."""

    kind: ClassVar[MessageType]

    v: int = PROTOCOL_VERSION
    node: NodeId
    incarnation: Count
    seq: Count
    ts: Finite

    @model_validator(mode="after")
    def _version_ok(self) -> ControlMessage:
        if self.v != PROTOCOL_VERSION:
            raise ValueError(f"v must be {PROTOCOL_VERSION}, not {self.v}")
        return self


class Hello(ControlMessage):
    """Node → coordinator: I am starting (again); ``endpoint`` is my PUB."""

    kind: ClassVar[MessageType] = MessageType.HELLO

    endpoint: Annotated[str, Field(max_length=ENDPOINT_MAX_CHARS)]
    weights: Weights | None = None
    index: Count | None = None

    @model_validator(mode="after")
    def _endpoint_ok(self) -> Hello:
        _check_endpoint(self.endpoint)
        return self


class Welcome(ControlMessage):
    """Coordinator → node: everything a joiner needs before it contributes.

    ``weights`` is the mean of the active nodes' weights (weight transfer),
    or None when there is no active node to learn from.
    """

    kind: ClassVar[MessageType] = MessageType.WELCOME

    step: Count
    theta_net: Finite
    isolated: tuple[NodeId, ...]
    epoch: Count
    peers: tuple[PeerInfo, ...]
    weights: Weights | None = None
    config_fingerprint: (
        Annotated[str, Field(max_length=FINGERPRINT_MAX_CHARS)] | None
    ) = None
    index: Count | None = None


class Heartbeat(ControlMessage):
    """Node → coordinator (and a copy on the node's PUB): I am alive."""

    kind: ClassVar[MessageType] = MessageType.HEARTBEAT

    step: Count
    state: NodeState = Field(strict=False)


class Threshold(ControlMessage):
    """Coordinator → all: θ_net in force from ``step`` on, and its inputs."""

    kind: ClassVar[MessageType] = MessageType.THRESHOLD

    step: Count
    theta_net: Finite
    var: Finite
    v_net: Finite
    n_taking_part: Count


class Isolate(ControlMessage):
    """Coordinator → all: ``target`` is isolated from ``step`` on."""

    kind: ClassVar[MessageType] = MessageType.ISOLATE

    target: NodeId
    step: Count
    epoch: Count


class Readmit(ControlMessage):
    """Coordinator → all: ``target`` takes part again from ``step`` on."""

    kind: ClassVar[MessageType] = MessageType.READMIT

    target: NodeId
    step: Count
    epoch: Count


class Leave(ControlMessage):
    """Node → coordinator: I am stopping, for ``reason``."""

    kind: ClassVar[MessageType] = MessageType.LEAVE

    reason: Annotated[str, Field(max_length=REASON_MAX_CHARS)]


class Membership(ControlMessage):
    """Coordinator → all: the members it knows, so peers can be dialled."""

    kind: ClassVar[MessageType] = MessageType.MEMBERSHIP

    members: tuple[Member, ...]


class State(NamedTuple):
    """Node → peers: one step's readings; the hot-path message.

    On the wire it is a msgpack array of 15 items: ``v`` followed by these
    fields in this order. Floats are float64, ``isolated`` is a boolean.
    Construct it freely; ``encode`` checks types and finiteness.
    """

    node: str
    incarnation: int
    seq: int
    ts: float
    step: int
    psi_raw: float
    psi: float
    error: float
    w1: float
    w2: float
    w3: float
    theta_net: float
    isolated: bool
    delta: float

    @property
    def kind(self) -> MessageType:
        """Always ``MessageType.STATE``."""
        return MessageType.STATE

    @property
    def v(self) -> int:
        """The protocol version (a decoded state is always the current one)."""
        return PROTOCOL_VERSION

    @property
    def weights(self) -> tuple[float, float, float]:
        """The node's weights ``(w1, w2, w3)``."""
        return (self.w1, self.w2, self.w3)


Message = (
    State
    | Hello
    | Welcome
    | Heartbeat
    | Threshold
    | Isolate
    | Readmit
    | Leave
    | Membership
)
"""Any message the codec encodes or decodes."""

CONTROL_TYPES: dict[MessageType, type[ControlMessage]] = {
    cls.kind: cls
    for cls in (
        Hello,
        Welcome,
        Heartbeat,
        Threshold,
        Isolate,
        Readmit,
        Leave,
        Membership,
    )
}
"""The pydantic model of every message type but state."""


def as_dict(msg: Message) -> dict[str, Any]:
    """A JSON-ready dict of ``msg`` with its ``type`` label first.

    Used by ``sniff``, recordings and logs: enums become their values and
    tuples become lists.
    """
    if isinstance(msg, State):
        return {
            "type": MessageType.STATE.label,
            "v": PROTOCOL_VERSION,
            **msg._asdict(),
        }
    return {"type": msg.kind.label, **msg.model_dump(mode="json")}
