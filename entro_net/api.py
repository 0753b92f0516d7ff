"""The seed's own Python API, as its example uses it, on top of the model core.

``PsiSync.broadcast`` syncs a list of readings, ``CollectiveAEW.step`` learns
every node's weights from the synced values, ``NetThreshold.update`` gives
θ_net, and ``detect_fault``/``isolate_node`` apply the isolation rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from entro_net.config import PSI_TARGET, Kappa, Law, ModelConfig
from entro_net.errors import ConfigError
from entro_net.model.aew import AewState, Derivatives, aew_step
from entro_net.model.isolation import IsolationState
from entro_net.model.network import sync_readings
from entro_net.model.sync import SeedLawState, check_kappa, masked_mean
from entro_net.model.threshold import ThresholdState, clip_theta

_DEFAULTS = ModelConfig()


def _row(values: Sequence[float], n_nodes: int) -> np.ndarray:
    row = np.asarray(values, dtype=float).reshape(1, -1)
    if row.shape[1] != n_nodes:
        raise ConfigError(f"expected {n_nodes} readings, got {row.shape[1]}")
    if not np.all(np.isfinite(row)):
        raise ConfigError("readings must be finite numbers")
    return row


class PsiSync:
    """Ψ-Sync over ``n_nodes`` nodes: sync, fault detection and isolation."""

    def __init__(
        self,
        n_nodes: int = 3,
        *,
        law: Law | str = Law.LINEAR,
        kappa: Kappa = "auto",
        tolerate: int = 1,
        psi_critical: float = 0.8,
        readmit_after: int = 5,
    ) -> None:
        if n_nodes < 2:
            raise ConfigError(f"a network needs at least 2 nodes, got {n_nodes}")
        self.n_nodes = n_nodes
        self.config = ModelConfig(
            law=Law(law),
            kappa=kappa,
            tolerate=tolerate,
            psi_critical=psi_critical,
            readmit_after=readmit_after,
        )
        if self.config.law is Law.LINEAR and self.config.kappa != "auto":
            check_kappa(float(self.config.kappa), n_nodes)
        self._seed = SeedLawState.start(1)
        self._isolation = IsolationState.start((1, n_nodes))
        self._step = 0

    @property
    def isolated(self) -> list[int]:
        """The nodes now isolated."""
        return [int(i) for i in np.flatnonzero(self._isolation.isolated[0])]

    def broadcast(self, psi_states: Sequence[float]) -> list[float]:
        """Sync the readings among the nodes that are not isolated."""
        raw = _row(psi_states, self.n_nodes)
        taking_part = ~self._isolation.isolated
        synced = sync_readings(self.config, raw, taking_part, self._seed)
        return [float(x) for x in synced[0]]

    def detect_fault(self, psi_states: Sequence[float]) -> list[int]:
        """Apply the isolation rule to the raw readings of this step.

        Returns the nodes isolated by this step (empty, and so false, when
        none); readmissions happen here too.
        """
        raw = _row(psi_states, self.n_nodes)
        decisions = self._isolation.step(
            raw,
            np.ones((1, self.n_nodes), dtype=bool),
            self._step,
            psi_critical=self.config.psi_critical,
            readmit_below=self.config.readmit_below,
            readmit_after=self.config.readmit_after,
        )
        self._step += 1
        return [d.node for d in decisions if d.kind == "isolate"]

    def isolate_node(self, node: int) -> None:
        """Isolate ``node`` by hand (it stays out until readmitted)."""
        if not 0 <= node < self.n_nodes:
            raise ConfigError(f"no node {node} in a network of {self.n_nodes}")
        if not self._isolation.isolated[0, node]:
            self._isolation.isolated[0, node] = True
            self._isolation.epoch[0] += 1


class CollectiveAEW:
    """Collective-AEW for every node of a network, stepped together."""

    def __init__(
        self,
        eta: float = _DEFAULTS.eta,
        target: float = PSI_TARGET,
        beta: float = _DEFAULTS.beta,
    ) -> None:
        if target != PSI_TARGET:
            raise ConfigError(f"the model's Ψ target is fixed at {PSI_TARGET}")
        self.eta = eta
        self.beta = beta
        self._state: AewState | None = None
        self._derivatives: Derivatives | None = None

    def step(self, synced_psi: Sequence[float]) -> list[list[float]]:
        """Learn from this step's synced values; returns every node's weights."""
        row = np.asarray(synced_psi, dtype=float).reshape(1, -1)
        if self._state is None or self._state.weights.shape[1] != row.shape[1]:
            self._state = AewState.start(row.shape, self.beta)
            self._derivatives = Derivatives.start(row.shape)
        assert self._derivatives is not None
        everyone = np.ones(row.shape, dtype=bool)
        d1, d2 = self._derivatives.push(row, everyone)
        network_error = masked_mean(row - PSI_TARGET, everyone)[:, None]
        aew_step(self._state, row, d1, d2, network_error, everyone, self.eta)
        return [[float(w) for w in node] for node in self._state.weights[0]]

    @property
    def weights(self) -> list[list[float]]:
        """Every node's current weights."""
        if self._state is None:
            return []
        return [[float(w) for w in node] for node in self._state.weights[0]]


class NetThreshold:
    """θ_net = clip(θ_base + γ·mean recent Var, 1.0, 2.5)."""

    def __init__(
        self,
        theta_base: float = _DEFAULTS.theta_base,
        gamma: float = _DEFAULTS.gamma,
    ) -> None:
        self.theta_base = theta_base
        self.gamma = gamma
        self._state = ThresholdState.start(1)
        self.theta = float(clip_theta(theta_base))

    def update(self, synced_psi: Sequence[float]) -> float:
        """Record this step's Var of the synced values; returns θ_net."""
        row = np.asarray(synced_psi, dtype=float).reshape(1, -1)
        var = np.var(row, axis=1)
        self.theta = float(self._state.update(var, self.theta_base, self.gamma)[0])
        return self.theta
