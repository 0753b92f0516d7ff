"""Hub batches: many node states in one frame, as fixed-layout records.

With the hub topology the coordinator relays the states it receives to
every node, a batch at a time, on its hub socket (P+2). A batch is one frame:
the prefix ``B`` and a msgpack array ``[v, node, incarnation, seq, ts,
records, leaves]`` where ``records`` is a msgpack bin of little-endian
``RECORD`` rows (one per state, the sender named by its node index) and
``leaves`` lists ``[index, incarnation]`` of nodes that left after their last
state in this batch. Rows decode with ``numpy.frombuffer``, without a Python
object per state. Batches travel on their own socket, so a decoder of the
nine message types of PROTOCOL.md never meets one.

Sans-IO: bytes in, arrays out; no sockets, no clock.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgpack
import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    MAX_MESSAGE_BYTES,
    MAX_NODE_INDEX,
    PROTOCOL_VERSION,
    PSI_ABS_MAX,
    WEIGHT_WIRE_RANGE,
    WIRE_FLOAT_ABS_MAX,
)
from entro_net.errors import ProtocolError
from entro_net.protocol.messages import INT_MAX, State

BATCH_PREFIX = b"B"
RECORD = np.dtype(
    [
        ("index", "<u4"),
        ("incarnation", "<u8"),
        ("seq", "<u8"),
        ("ts", "<f8"),
        ("step", "<u8"),
        ("psi_raw", "<f8"),
        ("psi", "<f8"),
        ("error", "<f8"),
        ("w1", "<f8"),
        ("w2", "<f8"),
        ("w3", "<f8"),
        ("theta_net", "<f8"),
        ("isolated", "u1"),
        ("delta", "<f8"),
    ]
)
"""One state in a batch: 109 bytes, packed, little endian."""
FLOAT_FIELDS = (
    "ts",
    "psi_raw",
    "psi",
    "error",
    "w1",
    "w2",
    "w3",
    "theta_net",
    "delta",
)
WIRE_BOUNDS: dict[str, tuple[float, float]] = {
    "ts": (-WIRE_FLOAT_ABS_MAX, WIRE_FLOAT_ABS_MAX),
    **{
        name: (-PSI_ABS_MAX, PSI_ABS_MAX)
        for name in ("psi_raw", "psi", "error", "theta_net", "delta")
    },
    **{name: WEIGHT_WIRE_RANGE for name in ("w1", "w2", "w3")},
}
"""The ranges of PROTOCOL.md §4 a row must keep, as a State on the wire must."""
HEADER_ALLOWANCE = 256
"""Bytes kept free in a frame for the header and the leaves."""

Records = NDArray[Any]


class Batch(NamedTuple):
    """A decoded batch: who sent it, its rows and the leaves it carries."""

    node: str
    incarnation: int
    seq: int
    ts: float
    records: Records
    leaves: list[tuple[int, int]]


def records_per_frame(max_bytes: int = MAX_MESSAGE_BYTES) -> int:
    """How many rows fit in one frame of ``max_bytes``."""
    return max(1, (max_bytes - HEADER_ALLOWANCE) // RECORD.itemsize)


def state_row(index: int, msg: State) -> tuple[Any, ...]:
    """A state as one row of ``RECORD`` (the sender given by its index)."""
    return (
        index,
        msg.incarnation,
        msg.seq,
        msg.ts,
        msg.step,
        msg.psi_raw,
        msg.psi,
        msg.error,
        msg.w1,
        msg.w2,
        msg.w3,
        msg.theta_net,
        1 if msg.isolated else 0,
        msg.delta,
    )


def encode_batch(
    node: str,
    incarnation: int,
    seq: int,
    ts: float,
    rows: list[tuple[Any, ...]],
    leaves: list[tuple[int, int]] | None = None,
) -> bytes:
    """One batch frame of ``rows`` (as ``state_row`` makes them)."""
    records = np.array(rows, dtype=RECORD).tobytes() if rows else b""
    body = [
        PROTOCOL_VERSION,
        node,
        incarnation,
        seq,
        float(ts),
        records,
        [list(pair) for pair in leaves or ()],
    ]
    return BATCH_PREFIX + msgpack.packb(body, use_bin_type=True)


def _check_records(records: Records) -> None:
    """Every row within the wire's ranges, as the state decoder demands."""
    for name in FLOAT_FIELDS:
        column = records[name]
        low, high = WIRE_BOUNDS[name]
        # min/max carry a NaN through, so one comparison catches it too
        if not (column.min() >= low and column.max() <= high):
            reason = "out_of_range" if np.isfinite(column).all() else "non_finite"
            raise ProtocolError(f"batch field {name}", reason)
    for name in ("incarnation", "seq", "step"):
        if records[name].max() > INT_MAX:
            raise ProtocolError(f"batch field {name} over {INT_MAX}", "schema")
    if records["index"].max() > MAX_NODE_INDEX or records["isolated"].max() > 1:
        raise ProtocolError("batch index or isolated flag out of range", "schema")


def decode_batch(frame: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Batch:
    """Decode and check one batch frame.

    Raises:
        ProtocolError: not a batch, oversize, wrong version, a records blob
            that is not whole rows, or a row that breaks the wire's ranges of
            a State (PROTOCOL.md §4: reasons non_finite, out_of_range,
            schema).
    """
    if len(frame) > max_bytes:
        raise ProtocolError("batch frame over the size limit", "oversize")
    if frame[:1] != BATCH_PREFIX:
        raise ProtocolError("not a batch frame", "unknown_type")
    try:
        body = msgpack.unpackb(frame[1:], raw=False, strict_map_key=True)
    except Exception as exc:
        raise ProtocolError(f"batch body: {exc}", "garbage") from exc
    if not isinstance(body, list) or len(body) != 7:
        raise ProtocolError("a batch body is an array of 7 items", "schema")
    version, node, incarnation, seq, ts, blob, leaves = body
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"batch version {version!r}", "version")
    if not (
        isinstance(node, str)
        and isinstance(incarnation, int)
        and isinstance(seq, int)
        and isinstance(ts, float)
        and isinstance(blob, bytes)
        and isinstance(leaves, list)
    ):
        raise ProtocolError("batch header of the wrong types", "schema")
    if len(blob) % RECORD.itemsize:
        raise ProtocolError("batch records are not whole rows", "schema")
    records = np.frombuffer(blob, dtype=RECORD)
    if records.size:
        _check_records(records)
    pairs: list[tuple[int, int]] = []
    for pair in leaves:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(x, int) and x >= 0 for x in pair)
        ):
            raise ProtocolError("a batch leave is [index, incarnation]", "schema")
        pairs.append((pair[0], pair[1]))
    return Batch(node, incarnation, seq, ts, records, pairs)
