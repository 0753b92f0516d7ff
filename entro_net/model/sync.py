"""The three Ψ-Sync laws (MODEL.md §2), vectorised over runs and nodes.

Arrays have shape ``(runs, nodes)``; ``taking_part`` masks the nodes that are
present and not isolated. A node that does not take part keeps its raw
reading and moves nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from entro_net.config import PSI_TARGET, SEED_ALPHA_MAX, SEED_ALPHA_MIN
from entro_net.errors import UnstableKappaError

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]

LINEAR_STABLE_BOUND = 2.0


def check_kappa(kappa: float, n_nodes: int, *, force: bool = False) -> None:
    """Refuse a fixed κ with κ·n ≥ 2: the linear law would diverge.

    Raises:
        UnstableKappaError: naming the bound 2/n, unless ``force``.
    """
    if not force and n_nodes > 0 and kappa * n_nodes >= LINEAR_STABLE_BOUND:
        raise UnstableKappaError(kappa, n_nodes)


def count(mask: Mask) -> NDArray[np.int64]:
    """Number of True entries along the node axis."""
    return np.sum(mask, axis=-1)


def masked_mean(values: Array, mask: Mask) -> Array:
    """Mean over the masked nodes; 0 where none is masked."""
    if mask.shape[-1] and np.all(mask):
        return np.mean(values, axis=-1)
    n = count(mask)
    total = np.sum(np.where(mask, values, 0.0), axis=-1)
    return np.divide(total, n, out=np.zeros_like(total), where=n > 0)


def masked_var(values: Array, mask: Mask) -> Array:
    """Population variance over the masked nodes (divide by n); 0 if none."""
    if mask.shape[-1] and np.all(mask):
        return np.var(values, axis=-1)
    mean = masked_mean(values, mask)
    dev = np.where(mask, values - mean[..., None], 0.0)
    n = count(mask)
    total = np.sum(dev * dev, axis=-1)
    return np.divide(total, n, out=np.zeros_like(total), where=n > 0)


def linear_sync(raw: Array, taking_part: Mask, kappa: Array) -> Array:
    """``s_i = r_i + κ·Σ_{j≠i}(r_j − r_i)`` over the nodes taking part.

    ``kappa`` has one value per run (shape ``(runs,)``).
    """
    n = count(taking_part)
    total = np.sum(np.where(taking_part, raw, 0.0), axis=-1)
    pull = total[..., None] - n[..., None] * raw
    synced = raw + kappa[..., None] * pull
    return np.where(taking_part, synced, raw)


def _extremes(raw: Array, taking_part: Mask, f: int) -> tuple[Array, Array]:
    """The ``f`` largest and ``f`` smallest readings taking part, per run.

    Missing places (fewer than ``f`` nodes) hold -inf and +inf.
    """
    high = np.where(taking_part, raw, -np.inf)
    low = np.where(taking_part, raw, np.inf)
    return -np.sort(-high, axis=-1)[..., :f], np.sort(low, axis=-1)[..., :f]


def resilient_sync(raw: Array, taking_part: Mask, tolerate: int) -> Array:
    """W-MSR: drop the F largest peers above and F smallest below, then average.

    Node i keeps the m remaining peer values and moves to the mean of them
    and its own reading (κ = 1/(m+1)). With up to F faulty peers a healthy
    node stays inside the range of the healthy readings. The F largest
    values above r_i are the F largest of the whole network that exceed
    r_i, so the law costs O(N·F) a step instead of O(N²).
    """
    n = count(taking_part)
    total = np.sum(np.where(taking_part, raw, 0.0), axis=-1)
    pull = total[..., None] - n[..., None] * raw
    peers = n[..., None] - 1
    f = max(int(tolerate), 0)
    if f > 0:
        top, bottom = _extremes(raw, taking_part, f)
        above = top[..., None, :] > raw[..., :, None]
        below = bottom[..., None, :] < raw[..., :, None]
        gap_top = np.where(above, top[..., None, :] - raw[..., :, None], 0.0)
        gap_bottom = np.where(below, bottom[..., None, :] - raw[..., :, None], 0.0)
        pull = pull - np.sum(gap_top, axis=-1) - np.sum(gap_bottom, axis=-1)
        peers = peers - np.sum(above, axis=-1) - np.sum(below, axis=-1)
    share = np.divide(pull, peers + 1.0, out=np.zeros_like(raw), where=taking_part)
    return np.where(taking_part, raw + share, raw)


@dataclass
class SeedLawState:
    """The reference law's network-wide adaptive aggression α, per run."""

    alpha: Array
    velocity: Array
    var_prev: Array

    @classmethod
    def start(cls, runs: int) -> SeedLawState:
        """α = 1, ν = 0, V_prev = 1 (the reference's starting values)."""
        return cls(alpha=np.ones(runs), velocity=np.zeros(runs), var_prev=np.ones(runs))


def seed_alpha_target(
    raw: Array, taking_part: Mask, var_prev: Array
) -> tuple[Array, Array]:
    """The reference law's target aggression α* from this step's readings.

    Works on any leading shape, so it can run for every step at once.
    Returns (α*, Var of the raw readings), the latter being next step's
    V_prev.
    """
    var_r = masked_var(raw, taking_part)
    deviation = np.abs(raw - PSI_TARGET)
    max_dev = np.max(np.where(taking_part, deviation, 0.0), axis=-1)
    stress = var_r + 0.3 * max_dev + 0.2 * masked_mean(deviation, taking_part)

    has_prev = var_prev > 0.0
    safe_prev = np.where(has_prev, var_prev, 1.0)
    reward = np.where(has_prev, (var_prev - var_r) / safe_prev, 0.0)
    adjustment = np.where(reward > 0.0, -0.5 * reward, 0.2 * reward)
    target = np.clip(1.0 + 3.0 * stress + adjustment, SEED_ALPHA_MIN, SEED_ALPHA_MAX)
    return target, var_r


def seed_alpha_advance(state: SeedLawState, target: Array) -> None:
    """Move α toward α* with momentum: ν ← 0.9ν + 0.05(α* − α), clip α."""
    state.velocity = 0.9 * state.velocity + 0.05 * (target - state.alpha)
    state.alpha = np.clip(state.alpha + state.velocity, SEED_ALPHA_MIN, SEED_ALPHA_MAX)


def seed_exchange(raw: Array, taking_part: Mask, kappa: Array, alpha: Array) -> Array:
    """``s_i = clip(r_i + Σ_j [α·κ·d + α²·d³], 0, 1)`` with d = r_j − r_i.

    Σ_j d and Σ_j d³ come from the power sums of the readings, so the
    exchange costs O(N) instead of O(N²). ``kappa`` and ``alpha`` have the
    shape of ``raw`` without its node axis.
    """
    everyone = bool(np.all(taking_part))
    inside = raw if everyone else np.where(taking_part, raw, 0.0)
    n = count(taking_part)[..., None].astype(float)
    square = inside * inside
    s1 = np.sum(inside, axis=-1)[..., None]
    s2 = np.sum(square, axis=-1)[..., None]
    s3 = np.sum(square * inside, axis=-1)[..., None]
    a = alpha[..., None]
    # Σ_j d³ = s3 − 3·r·s2 + 3·r²·s1 − n·r³, by Horner in r; Σ_j d = s1 − n·r.
    cubic = 3.0 * s1 - n * raw
    cubic *= raw
    cubic -= 3.0 * s2
    cubic *= raw
    cubic += s3
    cubic *= a * a
    linear = s1 - n * raw
    linear *= a * kappa[..., None]
    synced = raw + linear
    synced += cubic
    np.clip(synced, 0.0, 1.0, out=synced)
    return synced if everyone else np.where(taking_part, synced, raw)


def seed_sync(
    raw: Array, taking_part: Mask, kappa: Array, state: SeedLawState
) -> Array:
    """The reference package's exchange, step for step (MODEL.md §2, seed).

    Updates α in ``state`` from the readings first, then exchanges.
    """
    target, state.var_prev = seed_alpha_target(raw, taking_part, state.var_prev)
    seed_alpha_advance(state, target)
    return seed_exchange(raw, taking_part, kappa, state.alpha)
