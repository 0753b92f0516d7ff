"""Fuzzing the receive boundary: whatever arrives is returned or dropped, no raise."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from entro_net.protocol import Decoder, DropReason, MessageType, decode, encode
from tests.protocol.samples import every_message

FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
VALID_FRAMES = [encode(m) for m in every_message()]
PREFIXES = [kind.prefix for kind in MessageType]


def feed_checked(frame: bytes) -> None:
    """Feed one frame and check the decoder's books balance either way."""
    decoder = Decoder(track_sequence=False)

    msg = decoder.feed(frame, now=0.0)
    event(f"outcome: {decoder.last_drop or 'accepted'}")

    assert decoder.received == 1
    assert decoder.accepted + decoder.dropped == 1
    if msg is None:
        assert isinstance(decoder.last_drop, DropReason)
        assert decoder.drops[decoder.last_drop] == 1
    else:
        assert decoder.last_drop is None
        assert decode(encode(msg)) == msg  # what passes is always re-encodable


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(VALID_FRAMES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(frame)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if op == "flip" and at < len(frame):
            frame[at] = draw(st.integers(0, 255))
        elif op == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del frame[at : at + draw(st.integers(1, 8))]
        elif op == "cut":
            del frame[at:]
    return bytes(frame)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=16)
        | st.dictionaries(st.text(max_size=12), inner, max_size=16)
    ),
    max_leaves=40,
)


@st.composite
def plausible_frames(draw: st.DrawFn) -> bytes:
    """A known prefix and a msgpack body that often looks like a real one."""
    prefix = draw(st.sampled_from(PREFIXES))
    body: Any = draw(msgpack_values)
    if isinstance(body, list) and draw(st.booleans()):
        body = [1, *body]
    if isinstance(body, dict) and draw(st.booleans()):
        body = {"v": 1, "node": "n1", "incarnation": 0, "seq": 0, "ts": 0.0, **body}
    return prefix + msgpack.packb(body, use_bin_type=True)


random_bytes = st.binary(max_size=300)
prefixed_random_bytes = st.builds(
    bytes.__add__, st.sampled_from(PREFIXES), st.binary(max_size=300)
)


@FUZZ
@given(st.one_of(random_bytes, prefixed_random_bytes))
def test_random_bytes_never_raise_and_are_counted(frame: bytes) -> None:
    feed_checked(frame)


@FUZZ
@given(mutated_frames())
def test_mutated_valid_frames_never_raise_and_are_counted(frame: bytes) -> None:
    feed_checked(frame)


@FUZZ
@given(plausible_frames())
def test_random_msgpack_bodies_never_raise_and_are_counted(frame: bytes) -> None:
    feed_checked(frame)


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=64), mutated_frames()), max_size=30))
def test_a_stream_of_bad_frames_balances_the_books(frames: list[bytes]) -> None:
    decoder = Decoder()

    results = [decoder.feed(f, now=float(i)) for i, f in enumerate(frames)]

    assert decoder.received == len(frames)
    assert decoder.accepted == sum(r is not None for r in results)
    assert decoder.dropped == sum(r is None for r in results)
