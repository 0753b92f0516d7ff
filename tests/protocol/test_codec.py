"""encode/decode: round trips, the wire layout, and every way a frame is refused."""

from __future__ import annotations

import math
import struct
from typing import Any

import msgpack
import numpy as np
import pytest

from entro_net.config import MAX_MESSAGE_BYTES, PROTOCOL_VERSION
from entro_net.errors import ProtocolError
from entro_net.protocol import (
    STATE_FIELDS,
    DropReason,
    Hello,
    Leave,
    MessageType,
    State,
    decode,
    encode,
    peek_type,
)
from tests.protocol.samples import HEADER, a_state, every_message

STATE_FLOAT_FIELDS = [
    "ts", "psi_raw", "psi", "error", "w1", "w2", "w3", "theta_net", "delta"
]  # fmt: skip


def pack(prefix: bytes, body: Any) -> bytes:
    return prefix + msgpack.packb(body, use_bin_type=True, use_single_float=False)


def body_of(frame: bytes) -> Any:
    return msgpack.unpackb(frame[1:], raw=False)


def reason_of(frame: bytes, **kwargs: Any) -> str:
    with pytest.raises(ProtocolError) as caught:
        decode(frame, **kwargs)
    return caught.value.reason


# --- round trips and layout --------------------------------------------------


@pytest.mark.parametrize("msg", every_message(), ids=lambda m: m.kind.label)
def test_every_message_type_survives_a_round_trip(msg: Any) -> None:
    frame = encode(msg)

    decoded = decode(frame)

    assert frame[:1] == msg.kind.prefix
    assert type(decoded) is type(msg)
    assert decoded == msg
    assert peek_type(frame) is msg.kind


def test_all_nine_types_have_distinct_one_byte_ascii_prefixes() -> None:
    prefixes = [kind.prefix for kind in MessageType]

    assert len(prefixes) == 9
    assert len(set(prefixes)) == 9
    assert all(len(p) == 1 and p.isascii() and p.isalpha() for p in prefixes)


def test_state_is_an_array_in_the_documented_order() -> None:
    body = body_of(encode(a_state()))

    assert body == [
        PROTOCOL_VERSION, "node-a", 7, 3, 1234.5, 42,
        0.31, 0.33, -0.009, 0.5, 0.3, 0.2, 1.41, False, 0.02,
    ]  # fmt: skip
    assert list(STATE_FIELDS) == [
        "v", "node", "incarnation", "seq", "ts", "step", "psi_raw", "psi",
        "error", "w1", "w2", "w3", "theta_net", "isolated", "delta",
    ]  # fmt: skip


def test_control_messages_are_maps_with_the_header_first() -> None:
    body = body_of(encode(Leave(**HEADER, reason="bye")))

    assert list(body) == ["v", "node", "incarnation", "seq", "ts", "reason"]
    assert body["v"] == PROTOCOL_VERSION


def test_floats_go_on_the_wire_as_float64() -> None:
    state_frame = encode(a_state(psi=0.1))
    hello_frame = encode(Hello(**HEADER, endpoint="tcp://h:1", weights=(0.1, 0.2, 0.7)))

    assert b"\xcb" + struct.pack(">d", 0.1) in state_frame
    assert b"\xcb" + struct.pack(">d", 0.7) in hello_frame
    assert b"\xca" not in state_frame


def test_state_accepts_numpy_scalars_and_decodes_to_python_types() -> None:
    state = a_state(
        incarnation=np.int64(7), psi=np.float64(0.25), w1=np.float32(0.5),
        isolated=np.bool_(True), step=np.int32(9),
    )  # fmt: skip

    decoded = decode(encode(state))

    assert decoded == a_state(psi=0.25, w1=0.5, isolated=True, step=9)
    assert type(decoded.psi) is float and type(decoded.step) is int
    assert type(decoded.isolated) is bool


def test_state_gives_its_weights_kind_and_version() -> None:
    state = a_state()

    assert state.weights == (0.5, 0.3, 0.2)
    assert state.kind is MessageType.STATE
    assert state.v == PROTOCOL_VERSION


# --- encode refuses what decode would drop -----------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_encode_refuses_a_state_with_a_non_finite_number(bad: float) -> None:
    with pytest.raises(ProtocolError) as caught:
        encode(a_state(psi=bad))

    assert caught.value.reason == DropReason.NON_FINITE


def test_encode_refuses_a_state_with_an_unparsable_field() -> None:
    with pytest.raises(ProtocolError) as caught:
        encode(a_state(seq="three"))

    assert caught.value.reason == DropReason.SCHEMA


def test_encode_refuses_a_state_with_a_bad_node_id() -> None:
    with pytest.raises(ProtocolError) as caught:
        encode(a_state(node="has space"))

    assert caught.value.reason == DropReason.SCHEMA


def test_encode_refuses_a_frame_over_the_size_limit() -> None:
    welcome = every_message()[2]

    with pytest.raises(ProtocolError) as caught:
        encode(welcome, max_bytes=64)

    assert caught.value.reason == DropReason.OVERSIZE


# --- decode: bad input, reason by reason ---------------------------------------


def test_empty_frame_and_bare_prefix_are_truncated() -> None:
    assert reason_of(b"") == DropReason.TRUNCATED
    assert reason_of(b"S") == DropReason.TRUNCATED


@pytest.mark.parametrize("msg", every_message(), ids=lambda m: m.kind.label)
def test_every_cut_of_a_valid_frame_is_truncated(msg: Any) -> None:
    frame = encode(msg)

    reasons = {reason_of(frame[:cut]) for cut in range(len(frame))}

    assert reasons == {DropReason.TRUNCATED}


def test_bytes_that_are_not_msgpack_are_garbage() -> None:
    assert reason_of(b"S\xc1") == DropReason.GARBAGE  # 0xc1 is never used
    assert reason_of(encode(a_state()) + b"\x00") == DropReason.GARBAGE  # extra
    assert reason_of(b"L\xa3\xff\xfe\xfd") == DropReason.GARBAGE  # bad UTF-8
    assert reason_of(b"S" + b"\x91" * 5000 + b"\x00") == DropReason.GARBAGE  # deep


def test_unknown_prefix_is_unknown_type() -> None:
    body = encode(a_state())[1:]

    assert reason_of(b"X" + body) == DropReason.UNKNOWN_TYPE
    assert reason_of(b"\x00garbage") == DropReason.UNKNOWN_TYPE


@pytest.mark.parametrize("version", [0, PROTOCOL_VERSION + 1, 2**40])
@pytest.mark.parametrize("msg", every_message(), ids=lambda m: m.kind.label)
def test_other_protocol_versions_are_dropped_as_version(msg: Any, version: int) -> None:
    body = body_of(encode(msg))
    if isinstance(body, list):
        body[0] = version
    else:
        body["v"] = version

    assert reason_of(pack(msg.kind.prefix, body)) == DropReason.VERSION


def test_an_older_state_of_another_layout_is_still_dropped_as_version() -> None:
    old = pack(b"S", [0, "node-a", 1, 2.0])

    assert reason_of(old) == DropReason.VERSION


def test_frame_over_the_limit_is_oversize_before_anything_else() -> None:
    huge = pack(b"S", [PROTOCOL_VERSION, "x" * MAX_MESSAGE_BYTES])

    assert reason_of(huge) == DropReason.OVERSIZE
    assert reason_of(encode(a_state()), max_bytes=32) == DropReason.OVERSIZE
    assert reason_of(b"\x00" * (MAX_MESSAGE_BYTES + 1)) == DropReason.OVERSIZE


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", STATE_FLOAT_FIELDS)
def test_non_finite_number_in_any_state_field_is_non_finite(
    field: str, bad: float
) -> None:
    body = body_of(encode(a_state()))
    body[STATE_FIELDS.index(field)] = bad

    assert reason_of(pack(b"S", body)) == DropReason.NON_FINITE


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("msg", every_message()[1:], ids=lambda m: m.kind.label)
def test_non_finite_number_in_any_control_float_is_non_finite(
    msg: Any, bad: float
) -> None:
    body = body_of(encode(msg))
    paths = list(float_paths(body))
    assert paths, "the sample of every type with floats must have some"

    for path in paths:
        mutated = body_of(encode(msg))
        set_path(mutated, path, bad)
        assert reason_of(pack(msg.kind.prefix, mutated)) == DropReason.NON_FINITE


def float_paths(item: Any, path: tuple[Any, ...] = ()) -> Any:
    if isinstance(item, float):
        yield path
    elif isinstance(item, list):
        for i, x in enumerate(item):
            yield from float_paths(x, (*path, i))
    elif isinstance(item, dict):
        for key, x in item.items():
            yield from float_paths(x, (*path, key))


def set_path(item: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        item = item[key]
    item[path[-1]] = value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("node", ""),
        ("node", "bad id"),
        ("node", "x" * 65),
        ("node", b"node-a"),
        ("incarnation", -1),
        ("seq", True),
        ("seq", -1),
        ("seq", 1.0),
        ("step", 2**63),
        ("psi", 1),
        ("psi", "0.3"),
        ("w2", None),
        ("isolated", 0),
        ("isolated", "false"),
    ],
)
def test_state_with_a_mistyped_field_is_schema(field: str, value: Any) -> None:
    body = body_of(encode(a_state()))
    body[STATE_FIELDS.index(field)] = value

    assert reason_of(pack(b"S", body)) == DropReason.SCHEMA


def test_state_of_the_wrong_shape_is_schema() -> None:
    body = body_of(encode(a_state()))

    assert reason_of(pack(b"S", body[:-1])) == DropReason.SCHEMA
    assert reason_of(pack(b"S", [*body, 0.0])) == DropReason.SCHEMA
    assert reason_of(pack(b"S", dict(zip(STATE_FIELDS, body, strict=True)))) == (
        DropReason.SCHEMA
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.pop("endpoint"),
        lambda b: b.update(extra=1),
        lambda b: b.update(endpoint="udp://h:1"),
        lambda b: b.update(endpoint="tcp://h:70000"),
        lambda b: b.update(weights=[0.5, 0.5]),
        lambda b: b.update(weights=["0.5", 0.3, 0.2]),
        lambda b: b.update(incarnation="7"),
        lambda b: b.update(seq=False),
        lambda b: b.update(node="node a"),
        lambda b: b.update(v="1"),
        lambda b: b.pop("v"),
    ],
)
def test_control_message_with_a_wrong_field_is_schema(change: Any) -> None:
    body = body_of(encode(every_message()[1]))
    change(body)

    assert reason_of(pack(b"E", body)) == DropReason.SCHEMA


def test_heartbeat_with_an_unknown_state_is_schema() -> None:
    body = body_of(encode(every_message()[3]))
    body["state"] = "dancing"

    assert reason_of(pack(b"H", body)) == DropReason.SCHEMA


def test_body_that_is_neither_array_nor_map_is_schema() -> None:
    assert reason_of(pack(b"S", 5)) == DropReason.SCHEMA
    assert reason_of(pack(b"T", "text")) == DropReason.SCHEMA
    assert reason_of(pack(b"T", [PROTOCOL_VERSION, "node-a"])) == DropReason.SCHEMA


def test_decode_takes_bytearray_and_memoryview() -> None:
    frame = encode(a_state())

    assert decode(bytearray(frame)) == a_state()
    assert decode(memoryview(frame)) == a_state()


def test_state_decoded_twice_with_the_same_node_id_is_still_checked() -> None:
    # The node-id check caches good ids; a bad one must never be cached.
    body = body_of(encode(a_state()))
    body[1] = "bad id"

    assert reason_of(pack(b"S", body)) == DropReason.SCHEMA
    assert reason_of(pack(b"S", body)) == DropReason.SCHEMA


def test_encoded_state_decodes_to_an_equal_state_class() -> None:
    decoded = decode(encode(a_state()))

    assert isinstance(decoded, State)


def test_a_nullable_field_left_out_reads_as_null() -> None:
    body = body_of(encode(every_message()[1]))
    del body["weights"]

    decoded = decode(pack(b"E", body))

    assert isinstance(decoded, Hello)
    assert decoded.weights is None
