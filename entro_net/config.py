"""The one place where every default, port and limit of ENTRO-NET lives.

Flags, environment variables (``ENTRO_NET_<FLAG>``), the simulator, the node
and the coordinator all read these models; nothing else hard-codes a default.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from entro_net.errors import ConfigError

ENV_PREFIX = "ENTRO_NET_"
LOG_LEVELS = ("debug", "info", "warning", "error")


def flag_named(field: str, flag: str) -> AliasChoices:
    """Read ``field`` also from the variable named like its flag.

    ``--staleness`` sets ``staleness_s``: ``ENTRO_NET_STALENESS`` works like
    the flag, and ``ENTRO_NET_STALENESS_S`` (the field's name) still does.
    """
    return AliasChoices(field, ENV_PREFIX + flag.upper(), ENV_PREFIX + field.upper())


# --- model constants (MODEL.md) -------------------------------------------
PSI_TARGET = 0.339
WEIGHTS_START = (0.5, 0.3, 0.2)
WEIGHT_MIN = 0.1
WEIGHT_MAX = 0.8
AEW_MOMENTUM = 0.9
AEW_ERROR_WINDOW = 20
BETA_MIN = 0.1
BETA_MAX = 2.0
THETA_WINDOW = 20
THETA_MIN = 1.0
THETA_MAX = 2.5
FAULT_WINDOW = 5
FAULT_MIN_COUNT = 3
PLANT_DT_S = 0.1
PLANT_PSI_START = 0.339
PLANT_PSI_FLOOR = 0.05
PLANT_NOISE_STD = 0.01
PLANT_PHASE_SPAN_S = 20.0
SEED_ALPHA_MIN = 0.5
SEED_ALPHA_MAX = 5.0
NORMALISER_X_CAP = 0.99
TRACE_SCALE_ROWS = 288
PHASE_SHIFT_STEP = 250

# --- the seed's experiments (MODEL.md §8) ------------------------------------
SWEEP_NODES = "2,3,5,8,10,12,15,20,25,30,40,50"  # the seed's table of N
SWEEP_STEPS = 800
SWEEP_REPEATS = 4
HELPER_JOB_TIMEOUT_S = 60.0  # longest a fit or a plot may take in its helper
SWEEP_TAIL_STEPS = 100  # a run's figure: mean Var over its last 100 steps
LINEAR_FIT_MAX_NODES = 15  # the seed fits the linear model for N <= 15
CROSSOVER_BAND = (15, 25)  # the seed's crossover region, shaded in the plot
OBJECTIVE_NODES = 5
OBJECTIVE_STEPS = 1200
OBJECTIVE_REPEATS = 4
OBJECTIVE_JOIN_STEP = 400  # the late joiner of networked transfer
OBJECTIVE_FAULT_STEP = 300  # fault isolation: node 0 reads the level from here
OBJECTIVE_FAULT_LEVEL = 2.0
ADAPTATION_TOLERANCE = 0.05  # largest weight component off the network's mean
STABILITY_MAX_RATIO = 0.5  # Var with sync must be under half of exchange-off
TRANSFER_MIN_REDUCTION = 0.7  # adaptation time must fall by more than 70%

# --- network defaults (DESIGN.md) -------------------------------------------
DEFAULT_PORT = 5555
DEFAULT_RATE_HZ = 20.0
MAX_MESSAGE_BYTES = 64 * 1024
PROTOCOL_VERSION = 1
NODE_ID_MAX_CHARS = 64
FLOOD_MAX_PER_S = 2500.0  # one sender's sustained messages a second before drops
FLOOD_BURST = 500  # messages one sender may send at once above that rate
MAX_TRACKED_SENDERS = 4096  # senders a receiver keeps sequence and flood state for
MONITOR_CHECK_S = 0.25  # how often a loop reads its sockets' handshake monitors
# The free clock's shares of a period past the shared grid's tick (between
# the bursts of states, protocol/grid.py): the coordinator computes θ_net,
# then every node computes its next step, which it sends at the next tick.
FREE_THETA_AT = 0.25
FREE_PREPARE_AT = 0.5
CURVE_KEY_WAIT_S = 3.0  # a node's PUB holds a key the coordinator may vouch for
MAX_NODE_INDEX = 4095  # highest node index (a column of every node vector)
MAX_STEP = 2**53  # highest step a state may carry (joiners start a margin past it)
TRANSPORT_MAX_FACTOR = 4  # ZeroMQ cuts frames past this many max_message_bytes

# --- wire bounds (PROTOCOL.md §4, reason out_of_range) -------------------------
# No legitimate run comes near these: readings and synced values stay within a
# few units (a fault level is one of them), θ_net within [THETA_MIN, THETA_MAX]
# and weights within [WEIGHT_MIN, WEIGHT_MAX]. They keep squares and sums of
# many nodes' values far from float overflow (1e6² × 4096 nodes ≈ 4e15).
PSI_ABS_MAX = 1e6  # |psi_raw|, |psi|, |error|, |delta|, |theta_net|, |fault level|
WEIGHT_WIRE_RANGE = (0.0, 1.0)  # every weight on the wire
WIRE_FLOAT_ABS_MAX = 1e18  # any other float on the wire (ts, var, v_net)

# --- what one command may ask of one machine (a clear error beyond) -----------
MAX_UP_NODES = 256  # node processes `up` starts on this machine
UP_CHILD_CHECK_S = 0.1  # how often `up` asks whether a node process ended
STEADY_SETTLE_S = (
    1.0  # a node's steady delays start this long after it heard every peer
)
MAX_SWEEP_NODE_RUNS = 100_000  # Σ N × repeats of one sweep or objectives run
MAX_SIM_CELLS = 100_000_000  # runs × widest N × steps: ~0.8 GB a float array
PREDICTION_MIN_R2 = 0.5  # below it the sweep lists no linear predictions


class Law(StrEnum):
    """The sync law that turns raw readings into synced values."""

    LINEAR = "linear"
    RESILIENT = "resilient"
    SEED = "seed"


class Source(StrEnum):
    """Where a node's raw reading comes from."""

    SCRAPER = "scraper"
    PHASE_SHIFT = "phase_shift"
    PLANT = "plant"
    TRACE = "trace"
    HOST = "host"


class Disturbance(StrEnum):
    """The disturbance d(t) that drives the `plant` source."""

    SCRAPER = "scraper"
    LLM = "llm"


class Clock(StrEnum):
    """How nodes pace their steps."""

    LOCKSTEP = "lockstep"
    FREE = "free"


class Launcher(StrEnum):
    """How ``up`` starts its node processes."""

    FORK = "fork"  # import once, fork a child per node (fast start)
    SPAWN = "spawn"  # a fresh interpreter per node


class Topology(StrEnum):
    """Which way node states travel."""

    MESH = "mesh"  # every node dials every peer's PUB
    HUB = "hub"  # the coordinator relays a tick's states to all in one message


_FAULT_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*:\s*([-+0-9.eE]+)\s*$")


class Fault(BaseModel):
    """`--fault NODE:STEP:LEVEL`: node NODE reads LEVEL from STEP on."""

    model_config = ConfigDict(frozen=True)

    node: int = Field(ge=0)
    step: int = Field(ge=0)
    level: float = Field(allow_inf_nan=False, ge=-PSI_ABS_MAX, le=PSI_ABS_MAX)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse ``NODE:STEP:LEVEL``; raises ConfigError naming the format."""
        match = _FAULT_RE.match(text)
        if match is None:
            raise ConfigError(
                f"bad fault {text!r}: expected NODE:STEP:LEVEL, e.g. 2:300:2.0"
            )
        try:
            return cls(node=int(match[1]), step=int(match[2]), level=float(match[3]))
        except ValueError:
            raise ConfigError(
                f"bad fault {text!r}: LEVEL must be a number within "
                f"±{PSI_ABS_MAX:g}, e.g. 2:300:2.0"
            ) from None


Kappa = float | Literal["auto"]


class ModelConfig(BaseModel):
    """Every knob of the math (MODEL.md), shared by simulator and nodes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    law: Law = Law.LINEAR
    kappa: Kappa = "auto"
    force_kappa: bool = False
    degree: int | None = Field(default=None, ge=2)
    tolerate: int = Field(default=1, ge=0)
    source: Source = Source.SCRAPER
    disturbance: Disturbance = Disturbance.SCRAPER
    phase_offset: bool = True
    faults: tuple[Fault, ...] = ()
    # θ_net = clip(θ_base + γ·mean Var, THETA_MIN, THETA_MAX): a θ_base above
    # THETA_MAX or a negative γ could never show.
    theta_base: float = Field(default=1.4, ge=0.0, le=THETA_MAX, allow_inf_nan=False)
    gamma: float = Field(default=2.5, ge=0.0, le=PSI_ABS_MAX, allow_inf_nan=False)
    beta: float = Field(default=0.3, ge=BETA_MIN, le=BETA_MAX)
    eta: float = Field(default=0.01, ge=0.0, allow_inf_nan=False)
    psi_critical: float = Field(
        default=0.8, gt=0.0, le=PSI_ABS_MAX, allow_inf_nan=False
    )
    readmit_below: float = Field(
        default=0.4, ge=0.0, le=PSI_ABS_MAX, allow_inf_nan=False
    )
    readmit_after: int = Field(default=5, ge=1)
    isolation: bool = True
    exchange: bool = True
    transfer: bool = True

    @field_validator("kappa", mode="before")
    @classmethod
    def _kappa_auto_or_number(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise ValueError(
                    f"kappa must be a number or 'auto', not {value!r}"
                ) from None
        return value

    @field_validator("kappa")
    @classmethod
    def _kappa_finite(cls, value: Kappa) -> Kappa:
        if value != "auto" and not (0.0 <= float(value) < float("inf")):
            raise ValueError("kappa must be a finite number >= 0 or 'auto'")
        return value

    @model_validator(mode="after")
    def _degree_needs_linear(self) -> ModelConfig:
        if self.degree is not None and self.law is not Law.LINEAR:
            raise ValueError("a sparse peer graph (degree) works with the linear law")
        return self

    def kappa_for(self, n_taking_part: int) -> float:
        """The κ in force for n nodes taking part.

        ``auto`` is 1/n for the linear law and 1.0 for the seed law (the
        reference package's experiments).
        """
        if self.kappa != "auto":
            return float(self.kappa)
        if self.law is Law.SEED:
            return 1.0
        return 1.0 / max(n_taking_part, 1)


NODE_INPUT_FIELDS = frozenset({"source", "disturbance", "phase_offset", "faults"})
"""ModelConfig fields about a node's own readings: they may differ between
the nodes of one network (a fault injected into one node, a trace here and
the host's pressure there)."""


def model_fingerprint(model: ModelConfig) -> str:
    """A short digest of the knobs every node of a network must share (all
    but ``NODE_INPUT_FIELDS``): a node refuses a coordinator whose welcome
    carries another, since the two would compute different models."""
    shared = model.model_dump(mode="json", exclude=set(NODE_INPUT_FIELDS))
    text = json.dumps(shared, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ModelSettings(BaseSettings, ModelConfig):
    """ModelConfig read from ``ENTRO_NET_*`` environment variables.

    The command line takes its defaults from here, so ``ENTRO_NET_LAW=seed``
    in a compose file means what ``--law seed`` means on a shell.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True
    )


class NetworkConfig(BaseSettings):
    """Ports, clocks, heartbeats and limits of the real network.

    Read from flags and from ``ENTRO_NET_*`` environment variables, so a
    compose file sets ``ENTRO_NET_PORT`` where a shell would pass ``--port``.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True
    )

    port: int = Field(default=DEFAULT_PORT, ge=0, le=65534)
    bind_host: str = "0.0.0.0"
    coordinator: str = f"tcp://127.0.0.1:{DEFAULT_PORT}"
    advertise: str | None = None
    node_port: int = Field(default=0, ge=0, le=65535)
    node_id: str | None = None
    clock: Clock = Clock.FREE
    rate: float = Field(default=DEFAULT_RATE_HZ, gt=0.0, le=1000.0)
    staleness_s: float = Field(
        default=1.0, gt=0.0, validation_alias=flag_named("staleness_s", "staleness")
    )
    lockstep_wait_s: float = Field(
        default=2.0,
        gt=0.0,
        validation_alias=flag_named("lockstep_wait_s", "lockstep_wait"),
    )
    heartbeat_interval_s: float = Field(
        default=0.5,
        gt=0.0,
        validation_alias=flag_named("heartbeat_interval_s", "heartbeat_interval"),
    )
    suspect_after: int = Field(default=3, ge=1)
    dead_after: int = Field(default=8, ge=2)
    rejoin_backoff_max_s: float = Field(
        default=5.0,
        gt=0.0,
        validation_alias=flag_named("rejoin_backoff_max_s", "rejoin_backoff_max"),
    )
    max_message_bytes: int = Field(default=MAX_MESSAGE_BYTES, ge=1024)
    send_hwm: int = Field(default=1000, ge=1)
    linger_ms: int = Field(default=200, ge=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    record: str | None = None
    record_max_bytes: int = Field(default=256 * 1024 * 1024, ge=4096)
    record_keep: int = Field(default=3, ge=1)
    metrics_interval_s: float = Field(default=0.25, gt=0.0)
    warn_interval_s: float = Field(default=5.0, gt=0.0)
    # the network layer (entro_net/node, entro_net/coordinator, `up`)
    lockstep_resend_s: float = Field(default=0.05, gt=0.0)
    lockstep_join_margin: int = Field(default=20, ge=1)
    joining_heartbeat_s: float = Field(default=0.1, gt=0.0)
    membership_interval_s: float = Field(default=1.0, gt=0.0)
    hello_retry_s: float = Field(default=0.25, gt=0.0)
    health_timeout_s: float = Field(default=2.0, gt=0.0)
    stop_timeout_s: float = Field(default=5.0, gt=0.0)
    status_interval_s: float = Field(default=2.0, gt=0.0)
    launcher: Launcher = Launcher.FORK
    topology: Topology = Topology.MESH
    up_topology: Topology = Topology.HUB  # `up`'s, unless ENTRO_NET_TOPOLOGY says
    hub_wait_s: float = Field(default=0.005, gt=0.0)  # longest a state waits in the hub
    start_timeout_s: float = Field(default=60.0, gt=0.0)
    # CURVE encryption and authentication (docs/SECURITY.md); off without a key
    curve_secret: str | None = None
    coordinator_key: str | None = None
    allow: str | None = None
    # failure handling (docs/FAULTS.md)
    state_file: str | None = None
    state_interval_s: float = Field(default=1.0, gt=0.0)

    @model_validator(mode="after")
    def _dead_after_suspect(self) -> NetworkConfig:
        if self.dead_after <= self.suspect_after:
            raise ValueError(
                f"dead_after ({self.dead_after}) must exceed suspect_after "
                f"({self.suspect_after}): a member is suspect before it is dead"
            )
        return self


PositiveInt = Annotated[int, Field(ge=1)]
