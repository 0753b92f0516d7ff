"""A hub batch row must pass the same wire checks as the state it stands for.

Found by a tester: ``decode_batch`` checks only that eight float fields are
finite, so a row with ``psi_raw`` 1e300, a weight of -5 or a NaN ``delta``
reaches the node's core, where the state decoder of the mesh would have
dropped it as ``out_of_range`` / ``non_finite``. One such row on a node's
hub socket made its synced Ψ 7.5e299 (state not sent: out_of_range) and
pinned its weights at (0.8, 0.1, 0.1) for the rest of the run. Batches now
get the same ranges (protocol/batch.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from entro_net.errors import ProtocolError
from entro_net.protocol import State
from entro_net.protocol.batch import decode_batch, encode_batch, state_row
from entro_net.protocol.codec import encode

HOSTILE = [
    ("psi_raw", 1e300),
    ("psi", 1e300),
    ("error", -1e300),
    ("theta_net", 1e300),
    ("w1", -5.0),
    ("delta", float("nan")),
    ("delta", 1e300),
]


def a_state(**changes: Any) -> State:
    state = State(
        node="node-1", incarnation=7, seq=3, ts=12.5, step=43, psi_raw=0.31,
        psi=0.33, error=-0.009, w1=0.5, w2=0.3, w3=0.2, theta_net=1.41,
        isolated=False, delta=0.02,
    )  # fmt: skip
    return state._replace(**changes)


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_the_state_codec_refuses_the_hostile_value(field: str, value: float) -> None:
    with pytest.raises(ProtocolError):
        encode(a_state(**{field: value}))


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_a_batch_row_with_the_hostile_value_is_dropped(
    field: str, value: float
) -> None:
    frame = encode_batch("coordinator", 3, 9, 100.0, [state_row(4, a_state())])
    hostile = encode_batch(
        "coordinator", 3, 10, 100.0, [state_row(4, a_state(**{field: value}))]
    )
    decode_batch(frame)  # the honest batch passes

    with pytest.raises(ProtocolError):
        decode_batch(hostile)
