"""One node's raw readings, drawn exactly as the simulator draws them.

The simulator steps every node of a run at once; a node process steps only
its own column. Both take the same draws from the same streams (MODEL.md
§7) in the same order and call the same model functions, so a node's
reading at step k equals the simulator's column for that node.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    PLANT_DT_S,
    PLANT_NOISE_STD,
    PLANT_PHASE_SPAN_S,
    ModelConfig,
    Source,
)
from entro_net.errors import ConfigError
from entro_net.model.aew import Derivatives
from entro_net.model.rng import Purpose, node_stream
from entro_net.model.sources import (
    OPEN_LOOP_SOURCES,
    PlantState,
    apply_faults,
    open_loop_reading,
    plant_advance,
)

Array = NDArray[np.float64]


class NodeSource:
    """Raw readings of one node, one step at a time.

    Args:
        config: the model configuration (source, faults, disturbance).
        seed, network_size, repeat, index: the key of the node's streams,
            ``SeedSequence([seed, network_size, repeat, index, purpose])``.
        trace: the node's Ψ series (``trace`` source); row k is step k.
        host_reading: returns the machine's pressure as Ψ (``host`` source).

    Raises:
        ConfigError: the trace or host source without its input.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        seed: int,
        network_size: int,
        index: int,
        repeat: int = 0,
        trace: Array | None = None,
        host_reading: Callable[[], float] | None = None,
    ) -> None:
        if config.source is Source.TRACE and trace is None:
            raise ConfigError("the trace source needs a series: pass --trace FILE")
        if config.source is Source.HOST and host_reading is None:
            raise ConfigError("the host source needs a pressure reader")
        self.config = config
        self.index = index
        self.trace = trace
        self.host_reading = host_reading
        self._key = (seed, network_size, repeat, index)
        self._node_index = np.asarray([[index]], dtype=np.int64)
        self._phase = 0.0
        self._stream: np.random.Generator | None = None
        self.plant = PlantState.start((1, 1))
        self.derivatives = Derivatives.start((1, 1))
        self.restart()

    def restart(self) -> None:
        """Start afresh: new streams, plant at rest, no derivatives known.

        Called when the node takes its first step, as the simulator's draws
        for a node start at its join step.
        """
        seed, size, repeat, index = self._key
        if self.config.source is Source.PLANT:
            self._stream = node_stream(seed, size, repeat, index, Purpose.PLANT)
            self._phase = 0.0
            if self.config.phase_offset:
                phase = node_stream(seed, size, repeat, index, Purpose.PHASE)
                self._phase = float(phase.uniform(0.0, PLANT_PHASE_SPAN_S))
        elif self.config.source in OPEN_LOOP_SOURCES:
            self._stream = node_stream(seed, size, repeat, index, Purpose.READING)
        self.plant = PlantState.start((1, 1))
        self.derivatives = Derivatives.start((1, 1))

    def has_reading(self, step: int) -> bool:
        """Whether the source still has a reading at ``step`` (a trace ends)."""
        return self.trace is None or step < len(self.trace)

    def reading(self, step: int, theta_net: float, weights: Array) -> float:
        """The raw reading of ``step``, faults applied.

        ``theta_net`` and ``weights`` steer only the plant: they are the
        θ_net in force at this step and the node's weights after the last.
        """
        source = self.config.source
        if source is Source.PLANT:
            assert self._stream is not None
            noise = self._stream.normal(0.0, PLANT_NOISE_STD)
            plant_advance(
                self.plant,
                np.asarray([[theta_net]]),
                np.asarray(weights, dtype=float).reshape(1, 1, 3),
                np.asarray([[step * PLANT_DT_S + self._phase]]),
                np.asarray([[noise]]),
                self.config.disturbance,
            )
            raw = self.plant.psi
        elif source is Source.TRACE:
            assert self.trace is not None
            raw = np.asarray([[self.trace[min(step, len(self.trace) - 1)]]])
        elif source is Source.HOST:
            assert self.host_reading is not None
            raw = np.asarray([[self.host_reading()]])
        else:
            assert self._stream is not None
            uniform = np.asarray([[self._stream.random()]])
            raw = open_loop_reading(source, step, uniform)
        out = apply_faults(raw, step, self.config.faults, self._node_index)
        return float(out[0, 0])

    def settle(self, raw: float, synced: float) -> tuple[float, float]:
        """Feed back the synced value; return (Ψ̇, Ψ̈) for the weights' step.

        The plant takes the synced value as its Ψ (coupling feeds back);
        other sources differentiate their raw readings.
        """
        if self.config.source is Source.PLANT:
            self.plant.psi = np.asarray([[synced]])
            return float(self.plant.v[0, 0]), float(self.plant.a[0, 0])
        present = np.ones((1, 1), dtype=bool)
        d1, d2 = self.derivatives.push(np.asarray([[raw]]), present)
        return float(d1[0, 0]), float(d2[0, 0])
