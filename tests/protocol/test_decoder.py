"""Decoder.feed: the receive boundary drops and counts, and never raises."""

from __future__ import annotations

import math
from collections import Counter

import msgpack

from entro_net.config import MAX_MESSAGE_BYTES
from entro_net.protocol import (
    Decoder,
    DropReason,
    FloodGuard,
    Heartbeat,
    Hello,
    NodeState,
    encode,
)
from tests.protocol.samples import a_state, every_message, header


def test_every_bad_input_is_dropped_under_its_reason_and_counted() -> None:
    state = encode(a_state())
    body = msgpack.unpackb(state[1:])
    older = msgpack.packb([0, *body[1:]])
    nan = msgpack.packb([*body[:6], math.nan, *body[7:]])
    bad_inputs = {
        DropReason.GARBAGE: b"S\xc1\xc1\xc1",
        DropReason.TRUNCATED: state[:-3],
        DropReason.VERSION: b"S" + older,
        DropReason.OVERSIZE: b"S" + b"\x00" * MAX_MESSAGE_BYTES,
        DropReason.NON_FINITE: b"S" + nan,
        DropReason.UNKNOWN_TYPE: b"?" + state[1:],
        DropReason.SCHEMA: b"S" + msgpack.packb(body[:-1]),
    }
    decoder = Decoder()

    results = {reason: decoder.feed(frame) for reason, frame in bad_inputs.items()}
    last = decoder.last_drop

    assert results == dict.fromkeys(bad_inputs)
    assert decoder.drops == Counter(dict.fromkeys(bad_inputs, 1))
    assert last == DropReason.SCHEMA
    assert (decoder.received, decoder.accepted, decoder.dropped) == (7, 0, 7)


def test_a_valid_frame_is_returned_and_clears_last_drop() -> None:
    decoder = Decoder()
    decoder.feed(b"junk")

    msg = decoder.feed(encode(a_state()))

    assert msg == a_state()
    assert decoder.last_drop is None
    assert (decoder.received, decoder.accepted, decoder.dropped) == (2, 1, 1)


def test_a_state_claiming_another_node_is_dropped_as_impostor() -> None:
    decoder = Decoder()
    frame = encode(a_state(node="node-b"))

    from_b = decoder.feed(frame, expect_node="node-b")
    from_a = decoder.feed(encode(a_state(node="node-b", seq=4)), expect_node="node-a")

    assert from_b is not None
    assert from_a is None
    assert decoder.drops[DropReason.IMPOSTOR] == 1


def test_a_connection_cannot_speak_for_a_second_node() -> None:
    decoder = Decoder()

    first = decoder.feed(encode(a_state(node="node-a")), conn=b"route-1")
    other = decoder.feed(encode(a_state(node="node-b")), conn=b"route-1")
    stolen = decoder.feed(encode(a_state(node="node-a", seq=9)), conn=b"route-2")

    assert first is not None
    assert other is None and stolen is None
    assert decoder.drops[DropReason.IMPOSTOR] == 2


def test_a_restarted_node_takes_its_id_to_a_new_connection_with_a_hello() -> None:
    decoder = Decoder()
    decoder.feed(encode(a_state(incarnation=7)), conn=b"old")
    hello = Hello(**header(incarnation=8, seq=0), endpoint="tcp://127.0.0.1:7000")

    accepted = decoder.feed(encode(hello), conn=b"new")
    heartbeat = Heartbeat(
        **header(incarnation=8, seq=0), step=0, state=NodeState.JOINING
    )
    from_old = decoder.feed(encode(heartbeat), conn=b"old")

    assert accepted == hello
    assert from_old is None
    assert decoder.binding.node_of(b"new") == "node-a"


def test_a_flood_from_one_sender_is_dropped_and_counted() -> None:
    decoder = Decoder(flood=FloodGuard(rate_per_s=10.0, burst=5))
    frames = [encode(a_state(seq=i)) for i in range(1000)]

    accepted = [decoder.feed(f, now=100.0) for f in frames]
    after_a_second = decoder.feed(encode(a_state(seq=1000)), now=101.0)

    assert sum(m is not None for m in accepted) == 5
    assert decoder.drops[DropReason.FLOOD] == 995
    assert after_a_second is not None


def test_a_flood_from_one_sender_leaves_another_sender_alone() -> None:
    decoder = Decoder(flood=FloodGuard(rate_per_s=10.0, burst=5))
    for i in range(100):
        decoder.feed(encode(a_state(seq=i)), now=5.0)

    other = decoder.feed(encode(a_state(node="node-b")), now=5.0)

    assert other is not None


def test_a_members_backlog_on_its_own_link_is_not_a_flood() -> None:
    # A node paused for seconds gets every queued state of a peer at once.
    decoder = Decoder(flood=FloodGuard(rate_per_s=10.0, burst=5))
    frames = [encode(a_state(seq=i)) for i in range(2000)]

    on_its_link = [decoder.feed(f, now=7.0, expect_node="node-a") for f in frames]
    on_a_shared_link = decoder.feed(encode(a_state(node="node-b", seq=0)), now=7.0)

    assert all(m is not None for m in on_its_link)
    assert decoder.drops[DropReason.FLOOD] == 0
    assert on_a_shared_link is not None
    shared = [decoder.feed(encode(a_state(node="node-b", seq=i)), now=7.0)
              for i in range(1, 100)]  # fmt: skip
    assert decoder.drops[DropReason.FLOOD] == 99 - 4
    assert sum(m is not None for m in shared) == 4


def test_without_now_there_is_no_flood_check() -> None:
    decoder = Decoder(flood=FloodGuard(rate_per_s=1.0, burst=1))

    accepted = [decoder.feed(encode(a_state(seq=i))) for i in range(50)]

    assert all(m is not None for m in accepted)


def test_duplicates_and_reordered_messages_are_dropped_and_gaps_counted() -> None:
    decoder = Decoder()
    seqs = [0, 1, 1, 5, 3, 6]

    accepted = [decoder.feed(encode(a_state(seq=s))) is not None for s in seqs]

    assert accepted == [True, True, False, True, False, True]
    assert decoder.drops[DropReason.DUPLICATE] == 1
    assert decoder.drops[DropReason.OUT_OF_ORDER] == 1
    assert decoder.sequence is not None
    assert decoder.sequence.missing == 3


def test_without_sequence_tracking_duplicates_pass() -> None:
    decoder = Decoder(track_sequence=False)
    frame = encode(a_state())

    results = [decoder.feed(frame), decoder.feed(frame)]

    assert results == [a_state(), a_state()]
    assert decoder.sequence is None


def test_every_message_type_passes_a_fresh_decoder() -> None:
    decoder = Decoder()

    results = [decoder.feed(encode(m), now=0.0) for m in every_message()]

    assert results == every_message()
    assert decoder.dropped == 0


def test_feed_survives_objects_that_are_not_bytes() -> None:
    decoder = Decoder()

    result = decoder.feed(12345)  # type: ignore[arg-type]

    assert result is None
    assert decoder.last_drop == DropReason.GARBAGE
