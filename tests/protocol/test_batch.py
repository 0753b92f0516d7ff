"""Hub batches: states as fixed-layout rows, checked on the way in."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from entro_net.errors import ProtocolError
from entro_net.protocol import State
from entro_net.protocol.batch import (
    RECORD,
    decode_batch,
    encode_batch,
    records_per_frame,
    state_row,
)


def a_state(seq: int, psi: float = 0.33) -> State:
    return State(
        node="node-1", incarnation=7, seq=seq, ts=12.5, step=40 + seq, psi_raw=0.31,
        psi=psi, error=psi - 0.339, w1=0.5, w2=0.3, w3=0.2, theta_net=1.41,
        isolated=seq % 2 == 1, delta=0.02,
    )  # fmt: skip


def test_a_batch_carries_every_field_of_its_states_and_its_leaves() -> None:
    states = [a_state(0), a_state(1)]
    frame = encode_batch(
        "coordinator", 3, 9, 100.0, [state_row(4, s) for s in states], [(2, 5)]
    )

    batch = decode_batch(frame)

    assert (batch.node, batch.incarnation, batch.seq, batch.ts) == (
        "coordinator", 3, 9, 100.0,
    )  # fmt: skip
    assert batch.leaves == [(2, 5)]
    rows = batch.records.tolist()
    for row, state in zip(rows, states, strict=True):
        assert row[0] == 4
        assert State._make(("node-1", *row[1:12], bool(row[12]), row[13])) == state


def test_a_non_finite_float_drops_the_whole_batch() -> None:
    frame = encode_batch("c", 1, 0, 1.0, [state_row(0, a_state(0, psi=float("nan")))])

    with pytest.raises(ProtocolError) as caught:
        decode_batch(frame)

    assert caught.value.reason == "non_finite"


def test_records_that_are_not_whole_rows_are_refused() -> None:
    body = [1, "c", 1, 0, 1.0, b"\x00" * (RECORD.itemsize + 3), []]
    frame = b"B" + msgpack.packb(body, use_bin_type=True)

    with pytest.raises(ProtocolError) as caught:
        decode_batch(frame)

    assert caught.value.reason == "schema"


def test_another_version_is_refused() -> None:
    frame = b"B" + msgpack.packb([2, "c", 1, 0, 1.0, b"", []], use_bin_type=True)

    with pytest.raises(ProtocolError) as caught:
        decode_batch(frame)

    assert caught.value.reason == "version"


def test_a_full_frame_of_rows_stays_under_the_size_limit() -> None:
    rows = [state_row(i, a_state(i)) for i in range(records_per_frame(65536))]

    frame = encode_batch("coordinator", 1, 0, 1.0, rows, [(1, 1)] * 8)

    assert len(frame) <= 65536
    assert np.all(decode_batch(frame).records["index"] == np.arange(len(rows)))
