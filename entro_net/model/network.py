"""One step of the whole network (MODEL.md §2, steps 2–4), pure and vectorised.

The simulator calls it with every run and node at once; a lockstep node calls
it with the readings of its round and keeps its own row, so both compute the
same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from entro_net.config import PSI_TARGET, Law, ModelConfig
from entro_net.model.isolation import Decision, IsolationState
from entro_net.model.sparse import circulant_neighbours, sparse_sync
from entro_net.model.sync import (
    SeedLawState,
    count,
    linear_sync,
    masked_mean,
    masked_var,
    resilient_sync,
    seed_sync,
)
from entro_net.model.threshold import ThresholdState, clip_theta

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


def v_net(synced: Array, taking_part: Mask) -> Array:
    """Lyapunov candidate ``½·Σ (s_i − Ψ*)²`` over the nodes taking part."""
    dev = np.where(taking_part, synced - PSI_TARGET, 0.0)
    return 0.5 * np.sum(dev * dev, axis=-1)


@dataclass
class NetworkState:
    """What the network carries from one step to the next, per run."""

    isolation: IsolationState
    seed_law: SeedLawState
    threshold: ThresholdState
    theta_net: Array

    @classmethod
    def start(cls, runs: int, nodes: int, config: ModelConfig) -> NetworkState:
        """A fresh network: nobody isolated, θ_net = θ_base (clipped)."""
        return cls(
            isolation=IsolationState.start((runs, nodes)),
            seed_law=SeedLawState.start(runs),
            threshold=ThresholdState.start(runs),
            theta_net=np.full(runs, float(clip_theta(config.theta_base))),
        )


@dataclass(frozen=True)
class StepOutcome:
    """What one network step produced."""

    taking_part: Mask
    synced: Array
    var: Array
    v_net: Array
    network_error: Array
    theta_in_force: Array
    theta_next: Array
    decisions: list[Decision]


def sync_readings(
    config: ModelConfig, raw: Array, taking_part: Mask, seed_law: SeedLawState
) -> Array:
    """Apply the configured sync law (or none, with the exchange off)."""
    if not config.exchange:
        return raw.copy()
    n = count(taking_part)
    if config.kappa == "auto" and config.law is Law.LINEAR:
        kappa = 1.0 / np.maximum(n, 1)
    else:
        kappa = np.full(raw.shape[0], config.kappa_for(int(np.max(n, initial=1))))
    if config.law is Law.LINEAR and config.degree is not None:
        neighbours = circulant_neighbours(raw.shape[-1], config.degree)
        return sparse_sync(raw, taking_part, neighbours)
    if config.law is Law.LINEAR:
        return linear_sync(raw, taking_part, kappa)
    if config.law is Law.RESILIENT:
        return resilient_sync(raw, taking_part, config.tolerate)
    return seed_sync(raw, taking_part, kappa, seed_law)


def network_step(
    config: ModelConfig,
    state: NetworkState,
    raw: Array,
    present: Mask,
    step: int,
) -> StepOutcome:
    """Run step ``step`` on the raw readings of the nodes ``present``.

    Order: isolation rule on the raw readings; sync among the nodes taking
    part; Var, V_net and the mean error over them; θ_net for the next step.
    """
    decisions = state.isolation.step(
        raw,
        present,
        step,
        psi_critical=config.psi_critical,
        readmit_below=config.readmit_below,
        readmit_after=config.readmit_after,
        enabled=config.isolation,
    )
    taking_part = present & ~state.isolation.isolated

    synced = sync_readings(config, raw, taking_part, state.seed_law)

    var = masked_var(synced, taking_part)
    theta_in_force = state.theta_net
    state.theta_net = state.threshold.update(var, config.theta_base, config.gamma)
    return StepOutcome(
        taking_part=taking_part,
        synced=synced,
        var=var,
        v_net=v_net(synced, taking_part),
        network_error=masked_mean(synced - PSI_TARGET, taking_part),
        theta_in_force=theta_in_force,
        theta_next=state.theta_net,
        decisions=decisions,
    )
