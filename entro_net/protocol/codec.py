"""Turning messages into single frames and frames back into checked messages.

A frame is one byte of ASCII type prefix (what SUB sockets filter on)
followed by a msgpack body: a fixed-layout array for state, a map for every
control message. ``decode`` checks, in order: size, prefix, msgpack, version,
finiteness, schema, range (``entro_net.config`` bounds); the first failure
raises ``ProtocolError`` whose ``reason`` is a ``DropReason`` value.
"""

from __future__ import annotations

from enum import StrEnum
from math import isfinite
from typing import Any, cast

import msgpack
import pydantic

from entro_net.config import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    PSI_ABS_MAX,
    WEIGHT_WIRE_RANGE,
    WIRE_FLOAT_ABS_MAX,
)
from entro_net.errors import ProtocolError
from entro_net.protocol.messages import (
    CONTROL_TYPES,
    INT_MAX,
    ControlMessage,
    Message,
    MessageType,
    State,
    is_valid_node_id,
)

STATE_FIELDS: tuple[str, ...] = ("v", *State._fields)
"""The state array's items in wire order."""

_STATE_LEN = len(STATE_FIELDS)
_BY_PREFIX: dict[int, MessageType] = {kind.value[0]: kind for kind in MessageType}
_KNOWN_IDS: set[str] = set()
_KNOWN_IDS_MAX = 4096


class DropReason(StrEnum):
    """Why a received frame was dropped; the keys of every drop counter."""

    GARBAGE = "garbage"
    TRUNCATED = "truncated"
    VERSION = "version"
    OVERSIZE = "oversize"
    NON_FINITE = "non_finite"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA = "schema"
    IMPOSTOR = "impostor"
    FLOOD = "flood"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    STALE = "stale"


def _fail(reason: DropReason, detail: str) -> ProtocolError:
    return ProtocolError(f"bad message ({reason}): {detail}", reason=reason)


def peek_type(frame: bytes) -> MessageType | None:
    """The type a frame claims by its prefix, without decoding; None if unknown."""
    return _BY_PREFIX.get(frame[0]) if frame else None


# --- encoding ---------------------------------------------------------------


def encode(msg: Message, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """Encode ``msg`` as one frame: type prefix + msgpack body.

    Floats are packed as float64. State fields are coerced with ``int``,
    ``float`` and ``bool`` first, so numpy scalars are fine.

    Raises:
        ProtocolError: a state with a wrong type or a NaN/infinite number
            (reason ``schema`` / ``non_finite``), a number outside the wire
            bounds (``out_of_range``), or a frame larger than
            ``max_bytes`` (``oversize``).
    """
    if isinstance(msg, State):
        body: Any = _state_body(msg)
    else:
        body = msg.model_dump()
        _check_ranges(msg, body)
    try:
        packed = msgpack.packb(body, use_bin_type=True, use_single_float=False)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _fail(DropReason.SCHEMA, f"cannot pack {msg!r}: {exc}") from exc
    frame = msg.kind.value + packed
    if len(frame) > max_bytes:
        raise _fail(DropReason.OVERSIZE, f"{len(frame)} bytes > {max_bytes}")
    return frame


def _state_body(msg: State) -> list[object]:
    try:
        body: list[object] = [
            PROTOCOL_VERSION,
            msg.node,
            int(msg.incarnation),
            int(msg.seq),
            float(msg.ts),
            int(msg.step),
            *(float(x) for x in msg[5:12]),
            bool(msg.isolated),
            float(msg.delta),
        ]
    except (TypeError, ValueError, OverflowError) as exc:
        raise _fail(DropReason.SCHEMA, f"bad state field in {msg!r}: {exc}") from exc
    _check_state(body)
    return body


# --- decoding ---------------------------------------------------------------


def decode(
    frame: bytes | bytearray | memoryview, max_bytes: int = MAX_MESSAGE_BYTES
) -> Message:
    """Decode and check one frame.

    Raises:
        ProtocolError: with ``reason`` one of ``oversize``, ``truncated``,
            ``unknown_type``, ``garbage``, ``version``, ``non_finite`` or
            ``schema`` (see ``DropReason``).
    """
    if len(frame) > max_bytes:
        raise _fail(DropReason.OVERSIZE, f"{len(frame)} bytes > {max_bytes}")
    if len(frame) < 2:
        raise _fail(DropReason.TRUNCATED, f"{len(frame)} bytes, no body")
    kind = _BY_PREFIX.get(frame[0])
    if kind is None:
        raise _fail(DropReason.UNKNOWN_TYPE, f"prefix {bytes(frame[:1])!r}")

    body = _unpack(frame)
    _check_version(body)
    if kind is MessageType.STATE:
        return _check_state(body)
    return _check_control(CONTROL_TYPES[kind], body)


def _unpack(frame: bytes | bytearray | memoryview) -> Any:
    try:
        return msgpack.unpackb(frame[1:], raw=False, use_list=True, timestamp=0)
    except msgpack.OutOfData as exc:
        raise _fail(DropReason.TRUNCATED, "msgpack body ends early") from exc
    except ValueError as exc:
        # msgpack says "incomplete input" when the body stops early, and
        # "N exceeds max_..._len(M)" when a header claims more items or bytes
        # than are left: both are cut frames. FormatError, ExtraData,
        # StackError and UnicodeDecodeError (ValueError subclasses) are not.
        if type(exc) is ValueError and _is_cut_short(str(exc)):
            raise _fail(DropReason.TRUNCATED, "msgpack body ends early") from exc
        raise _fail(DropReason.GARBAGE, f"not msgpack: {exc}") from exc
    except Exception as exc:
        raise _fail(DropReason.GARBAGE, f"not msgpack: {exc!r}") from exc


def _is_cut_short(text: str) -> bool:
    return "incomplete" in text or "exceeds max_" in text


def _check_version(body: Any) -> None:
    if type(body) is list and body:
        version = body[0]
    elif type(body) is dict:
        version = body.get("v")
    else:
        raise _fail(DropReason.SCHEMA, f"body is a {type(body).__name__}")
    if type(version) is not int:
        raise _fail(DropReason.SCHEMA, f"version is {version!r}, not an integer")
    if version != PROTOCOL_VERSION:
        raise _fail(DropReason.VERSION, f"v={version}, we speak {PROTOCOL_VERSION}")


def _is_node_id(x: object) -> bool:
    if type(x) is not str:
        return False
    if x in _KNOWN_IDS:
        return True
    if not is_valid_node_id(x):
        return False
    if len(_KNOWN_IDS) >= _KNOWN_IDS_MAX:
        _KNOWN_IDS.clear()
    _KNOWN_IDS.add(x)
    return True


def _check_state(body: Any) -> State:
    """The cheap typed check of the hot path; returns the State.

    Written out long-hand on purpose: loops and helper calls doubled its cost.
    """
    if type(body) is not list or len(body) != _STATE_LEN:
        raise _fail(DropReason.SCHEMA, f"state must be an array of {_STATE_LEN}")
    _, node, inc, seq, ts, step, r, s, e, w1, w2, w3, theta, isolated, delta = body
    if not (
        type(ts) is float
        and type(r) is float
        and type(s) is float
        and type(e) is float
        and type(w1) is float
        and type(w2) is float
        and type(w3) is float
        and type(theta) is float
        and type(delta) is float
    ):
        raise _fail(DropReason.SCHEMA, "a state number is not a float")
    if not (
        isfinite(ts)
        and isfinite(r)
        and isfinite(s)
        and isfinite(e)
        and isfinite(w1)
        and isfinite(w2)
        and isfinite(w3)
        and isfinite(theta)
        and isfinite(delta)
    ):
        raise _fail(DropReason.NON_FINITE, "a state number is NaN or infinite")
    if not (
        type(inc) is int
        and type(seq) is int
        and type(step) is int
        and 0 <= inc <= INT_MAX
        and 0 <= seq <= INT_MAX
        and 0 <= step <= INT_MAX
    ):
        raise _fail(DropReason.SCHEMA, "state incarnation/seq/step not counts")
    if type(isolated) is not bool or not _is_node_id(node):
        raise _fail(DropReason.SCHEMA, f"state isolated/node bad: {node!r}")
    if not (
        -WIRE_FLOAT_ABS_MAX <= ts <= WIRE_FLOAT_ABS_MAX
        and -PSI_ABS_MAX <= r <= PSI_ABS_MAX
        and -PSI_ABS_MAX <= s <= PSI_ABS_MAX
        and -PSI_ABS_MAX <= e <= PSI_ABS_MAX
        and -PSI_ABS_MAX <= theta <= PSI_ABS_MAX
        and -PSI_ABS_MAX <= delta <= PSI_ABS_MAX
        and _W_LOW <= w1 <= _W_HIGH
        and _W_LOW <= w2 <= _W_HIGH
        and _W_LOW <= w3 <= _W_HIGH
    ):
        raise _fail(DropReason.OUT_OF_RANGE, "a state number is out of range")
    return State._make(body[1:])


_W_LOW, _W_HIGH = WEIGHT_WIRE_RANGE
_PSI_FIELDS = ("theta_net",)
_WEIGHT_FIELDS = ("weights",)


def _check_ranges(msg: ControlMessage, body: dict[str, Any]) -> None:
    """Out-of-range numbers of a valid control message (PROTOCOL.md §4)."""
    stack: list[Any] = [body]
    while stack:
        item = stack.pop()
        if (
            type(item) is float
            and not -WIRE_FLOAT_ABS_MAX <= item <= WIRE_FLOAT_ABS_MAX
        ):
            raise _fail(DropReason.OUT_OF_RANGE, f"{msg.kind.label}: {item!r}")
        if type(item) is list or type(item) is tuple:
            stack.extend(item)
        elif type(item) is dict:
            stack.extend(item.values())
    for name in _PSI_FIELDS:
        value = getattr(msg, name, None)
        if value is not None and not -PSI_ABS_MAX <= value <= PSI_ABS_MAX:
            raise _fail(DropReason.OUT_OF_RANGE, f"{msg.kind.label}.{name}={value}")
    for name in _WEIGHT_FIELDS:
        weights = getattr(msg, name, None)
        if weights is not None and not all(_W_LOW <= w <= _W_HIGH for w in weights):
            raise _fail(DropReason.OUT_OF_RANGE, f"{msg.kind.label}.{name}={weights}")


def _has_non_finite(body: Any) -> bool:
    """Whether any float anywhere in ``body`` is NaN or infinite (no recursion)."""
    stack = [body]
    while stack:
        item = stack.pop()
        if type(item) is float:
            if not isfinite(item):
                return True
        elif type(item) is list:
            stack.extend(item)
        elif type(item) is dict:
            stack.extend(item.values())
    return False


def _check_control(cls: type[ControlMessage], body: Any) -> Message:
    if type(body) is not dict:
        raise _fail(DropReason.SCHEMA, f"{cls.kind.label} must be a map")
    if _has_non_finite(body):
        raise _fail(DropReason.NON_FINITE, f"{cls.kind.label} carries NaN or inf")
    try:
        msg = cls.model_validate(body)
    except pydantic.ValidationError as exc:
        raise _fail(
            DropReason.SCHEMA, f"{cls.kind.label}: {exc.error_count()} errors"
        ) from exc
    _check_ranges(msg, body)
    return cast(Message, msg)
