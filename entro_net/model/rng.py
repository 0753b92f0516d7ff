"""Seeded random streams: every node's numbers come from its own generators.

MODEL.md §7: for repeat r of a run with N nodes, node i draws from PCG64
seeded with ``SeedSequence([S, N, r, i, purpose])``. A node process and the
simulator build the same generator and draw in the same order.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Purpose(IntEnum):
    """What a stream is used for; part of its seed."""

    READING = 0
    PLANT = 1
    PHASE = 2


def node_stream(
    seed: int, n_nodes: int, repeat: int, node: int, purpose: Purpose
) -> np.random.Generator:
    """Return node ``node``'s generator for ``purpose`` in repeat ``repeat``."""
    sequence = np.random.SeedSequence([seed, n_nodes, repeat, node, int(purpose)])
    return np.random.Generator(np.random.PCG64(sequence))
