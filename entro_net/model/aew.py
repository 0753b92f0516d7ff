"""Collective-AEW: each node learns its weights from its own error and the
network's (MODEL.md §3), vectorised over runs and nodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    AEW_ERROR_WINDOW,
    AEW_MOMENTUM,
    BETA_MAX,
    BETA_MIN,
    PSI_TARGET,
    WEIGHT_MAX,
    WEIGHT_MIN,
    WEIGHTS_START,
)

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


@dataclass
class AewState:
    """Weights, momentum, β and the last |e| values of every node.

    ``errors`` is a ring of the last 20 |e|; ``written`` counts every |e|
    ever pushed, so the newest sits at ``(written - 1) % 20``. Places not
    yet written hold 0.
    """

    weights: Array
    velocity: Array
    beta: Array
    errors: Array
    written: NDArray[np.int64]

    @classmethod
    def start(cls, shape: tuple[int, ...], beta: float) -> AewState:
        """Weights [0.5, 0.3, 0.2], ν_w = 0, β = ``beta``, no errors known."""
        return cls(
            weights=np.broadcast_to(np.asarray(WEIGHTS_START), (*shape, 3)).copy(),
            velocity=np.zeros((*shape, 3)),
            beta=np.full(shape, float(beta)),
            errors=np.zeros((*shape, AEW_ERROR_WINDOW)),
            written=np.zeros(shape, dtype=np.int64),
        )

    @property
    def known(self) -> NDArray[np.int64]:
        """How many of the last 20 |e| are real."""
        return np.minimum(self.written, AEW_ERROR_WINDOW)

    def recent(self, back: int) -> Array:
        """|e| pushed ``back`` steps ago (1 = newest); 0 if not known."""
        slot = (self.written - back) % AEW_ERROR_WINDOW
        return np.take_along_axis(self.errors, slot[..., None], axis=-1)[..., 0]

    def restart(self, where: Mask, weights: Array, beta: float) -> None:
        """Start the nodes in ``where`` afresh from ``weights`` (transfer)."""
        self.weights = np.where(where[..., None], weights, self.weights)
        self.velocity = np.where(where[..., None], 0.0, self.velocity)
        self.beta = np.where(where, float(beta), self.beta)
        self.errors = np.where(where[..., None], 0.0, self.errors)
        self.written = np.where(where, 0, self.written)


def normalise_weights(weights: Array) -> Array:
    """Clip each weight to [0.1, 0.8] and divide by the sum."""
    clipped = np.clip(weights, WEIGHT_MIN, WEIGHT_MAX)
    return clipped / np.sum(clipped, axis=-1, keepdims=True)


def aew_step(
    state: AewState,
    synced: Array,
    d_psi: Array,
    d2_psi: Array,
    network_error: Array,
    stepping: Mask,
    eta: float,
) -> None:
    """One Collective-AEW step, in place, for the nodes in ``stepping``.

    Args:
        state: the nodes' learning state.
        synced: each node's synced value s.
        d_psi, d2_psi: Ψ̇ and Ψ̈ of each node.
        network_error: the mean signed error of the nodes taking part,
            broadcastable against ``synced``.
        stepping: the nodes that take this step (present in the network).
        eta: the learning rate η.
    """
    everyone = bool(np.all(stepping))
    previous = None if everyone else (state.errors.copy(), state.written.copy())
    error = synced - PSI_TARGET
    slot = state.written % AEW_ERROR_WINDOW
    np.put_along_axis(state.errors, slot[..., None], np.abs(error)[..., None], -1)
    state.written = state.written + 1
    known = state.known

    mean_abs = np.sum(state.errors, axis=-1) / known
    scale = np.where(known > 5, 1.0 + np.minimum(2.0, mean_abs), 1.0)
    common = scale * 2.0 * error
    local = np.stack([common * (1.0 - synced), common * d_psi, common * d2_psi], -1)

    current = np.abs(network_error)
    reward = np.where(known > 1, 10.0 * (state.recent(2) - current), -current)
    step_beta = np.where(
        np.abs(reward) > 0.05, -0.02 * reward, 0.002 * (0.5 - state.beta)
    )
    beta = np.clip(state.beta + step_beta, BETA_MIN, BETA_MAX)
    trend = np.where(
        known > 5, (state.recent(1) - state.recent(5)) / 5.0, network_error
    )
    collective = (beta * trend)[..., None]

    velocity = AEW_MOMENTUM * state.velocity - eta * (local + collective)
    weights = normalise_weights(state.weights + velocity)

    if previous is None:
        state.weights, state.velocity, state.beta = weights, velocity, beta
        return
    keep = stepping[..., None]
    state.weights = np.where(keep, weights, state.weights)
    state.velocity = np.where(keep, velocity, state.velocity)
    state.beta = np.where(stepping, beta, state.beta)
    state.errors = np.where(keep, state.errors, previous[0])
    state.written = np.where(stepping, state.written, previous[1])


@dataclass
class Derivatives:
    """First and second differences of each node's raw readings per step."""

    last: Array
    before: Array
    known: NDArray[np.int64]

    @classmethod
    def start(cls, shape: tuple[int, ...]) -> Derivatives:
        """No readings known yet."""
        return cls(np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64))

    def push(self, raw: Array, stepping: Mask) -> tuple[Array, Array]:
        """Record this step's reading; return (Ψ̇, Ψ̈), 0 until enough are known."""
        d1 = np.where(self.known >= 1, raw - self.last, 0.0)
        d2 = np.where(self.known >= 2, raw - 2.0 * self.last + self.before, 0.0)
        self.before = np.where(stepping, self.last, self.before)
        self.last = np.where(stepping, raw, self.last)
        self.known = np.where(stepping, np.minimum(self.known + 1, 2), self.known)
        return d1, d2
