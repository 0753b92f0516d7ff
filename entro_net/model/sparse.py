"""The linear law over a sparse peer graph: k neighbours a node, for large N.

All-to-all traffic grows as N²; here each node syncs with ``k`` neighbours
on a circulant graph (offsets ±1 … ±k/2, so it is symmetric and the same
for every party that knows N). Metropolis weights
``w_ij = 1/(1 + max(d_i, d_j))`` over the neighbours taking part make the
update matrix symmetric and doubly stochastic with a positive diagonal: the
mean of the nodes taking part is kept and no value leaves their range, for
any membership, so the law is stable by construction.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


def circulant_neighbours(n_nodes: int, degree: int) -> NDArray[np.int64]:
    """Each node's neighbours, shape (n, 2·⌊k/2⌋), on a circulant graph.

    An odd ``degree`` is rounded down to even (the graph stays symmetric);
    it is capped at n − 1.
    """
    half = max(1, min(degree, n_nodes - 1) // 2)
    offsets = np.concatenate([np.arange(1, half + 1), -np.arange(1, half + 1)])
    return (np.arange(n_nodes)[:, None] + offsets[None, :]) % n_nodes


def sparse_sync(raw: Array, taking_part: Mask, neighbours: NDArray[np.int64]) -> Array:
    """One linear step over the graph with Metropolis weights.

    Works on any leading shape: ``raw`` is (..., N), ``neighbours`` (N, k).
    A node not taking part keeps its reading and moves nobody.
    """
    peer_raw = raw[..., neighbours]
    peer_in = taking_part[..., neighbours] & taking_part[..., :, None]
    degree = np.sum(peer_in, axis=-1)
    peer_degree = np.take(degree, neighbours, axis=-1)
    weight = np.where(
        peer_in, 1.0 / (1.0 + np.maximum(degree[..., None], peer_degree)), 0.0
    )
    synced = raw + np.sum(weight * (peer_raw - raw[..., None]), axis=-1)
    return np.where(taking_part, synced, raw)
