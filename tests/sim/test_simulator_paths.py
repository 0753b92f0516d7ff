"""The whole-run (time-vectorised) path computes what the stepwise path does."""

import numpy as np
import pytest

from entro_net.config import Fault, Law, ModelConfig
from entro_net.sim.simulator import RunSpec, Simulator


@pytest.mark.parametrize("law", [Law.SEED, Law.LINEAR, Law.RESILIENT])
def test_whole_run_and_stepwise_paths_agree(law: Law) -> None:
    config = ModelConfig(
        law=law,
        kappa=1.0 if law is Law.SEED else "auto",
        faults=(Fault(node=1, step=60, level=1.5),),
    )
    runs = [RunSpec(n, r, join_step={2: 40}) for n in (3, 6) for r in range(2)]
    fast = Simulator(config, runs, 150, seed=7, record=True).run()
    slow = Simulator(config, runs, 150, seed=7, record=True, whole_run=False).run()

    assert fast.psi is not None and slow.psi is not None
    assert fast.taking_part is not None and slow.taking_part is not None
    for b, spec in enumerate(runs):
        n = spec.n_nodes
        assert np.allclose(fast.psi[b, :, :n], slow.psi[b, :, :n], atol=1e-12)
        assert np.array_equal(fast.taking_part[b, :, :n], slow.taking_part[b, :, :n])
    assert np.allclose(fast.var, slow.var, atol=1e-12)
    assert np.allclose(fast.theta_net, slow.theta_net, atol=1e-12)
    assert fast.weights is not None and slow.weights is not None
    assert np.allclose(fast.weights, slow.weights, atol=1e-12)
    assert [(d.node, d.step, d.epoch, d.run) for d in fast.decisions] == [
        (d.node, d.step, d.epoch, d.run) for d in slow.decisions
    ]
    assert any(d.node == 1 for d in fast.decisions)
