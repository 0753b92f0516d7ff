"""Numbers outside the wire bounds are dropped as ``out_of_range``, not used.

A finite 1e308 once overflowed the coordinator's variance and crashed it;
the bounds in ``entro_net.config`` keep every number a receiver accepts far
from overflow.
"""

from __future__ import annotations

import msgpack
import pytest

from entro_net.config import PSI_ABS_MAX, WIRE_FLOAT_ABS_MAX
from entro_net.errors import ProtocolError
from entro_net.protocol import Hello, Threshold, decode, encode
from entro_net.protocol.codec import DropReason
from entro_net.protocol.decoder import Decoder
from tests.protocol.samples import HEADER, a_state


def _state_frame(**changes: object) -> bytes:
    body = [1, *a_state()]
    names = ("v", *a_state()._fields)
    for name, value in changes.items():
        body[names.index(name)] = value
    return b"S" + msgpack.packb(body, use_bin_type=True, use_single_float=False)


@pytest.mark.parametrize(
    "field", ["psi_raw", "psi", "error", "theta_net", "delta", "w1", "w2", "w3"]
)
def test_huge_finite_state_number_is_dropped_as_out_of_range(field: str) -> None:
    decoder = Decoder(track_sequence=False)

    assert decoder.feed(_state_frame(**{field: 1e308})) is None
    assert decoder.drops[DropReason.OUT_OF_RANGE] == 1


def test_state_at_the_bounds_still_decodes() -> None:
    frame = _state_frame(psi_raw=PSI_ABS_MAX, psi=-PSI_ABS_MAX, w1=1.0, w3=0.0)

    assert decode(frame).psi_raw == PSI_ABS_MAX  # type: ignore[union-attr]


def test_negative_weight_is_out_of_range() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(_state_frame(w2=-0.01))
    assert caught.value.reason == DropReason.OUT_OF_RANGE


def test_hello_with_huge_weights_is_out_of_range() -> None:
    body = {
        "v": 1,
        **HEADER,
        "endpoint": "tcp://127.0.0.1:5000",
        "weights": [1e308, 0.3, 0.2],
        "index": None,
    }
    frame = b"E" + msgpack.packb(body, use_bin_type=True, use_single_float=False)

    with pytest.raises(ProtocolError) as caught:
        decode(frame)
    assert caught.value.reason == DropReason.OUT_OF_RANGE


def test_threshold_with_huge_v_net_is_neither_sent_nor_accepted() -> None:
    huge = Threshold(
        **HEADER,
        step=1,
        theta_net=1.4,
        var=0.1,
        v_net=WIRE_FLOAT_ABS_MAX * 10,
        n_taking_part=3,
    )

    with pytest.raises(ProtocolError) as caught:
        encode(huge)
    assert caught.value.reason == DropReason.OUT_OF_RANGE
    body = {"v": 1, **huge.model_dump(exclude={"v"})}
    frame = b"T" + msgpack.packb(body, use_bin_type=True, use_single_float=False)
    with pytest.raises(ProtocolError) as caught:
        decode(frame)
    assert caught.value.reason == DropReason.OUT_OF_RANGE


def test_plain_hello_still_round_trips() -> None:
    hello = Hello(**HEADER, endpoint="tcp://127.0.0.1:5000", weights=(0.5, 0.3, 0.2))

    assert decode(encode(hello)) == hello
