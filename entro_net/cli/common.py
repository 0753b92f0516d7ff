"""Flags shared by every command that runs the model, parsed in one place.

The simulator and the network read the same flags, so ``--law`` or
``--kappa`` mean the same thing in ``experiment sweep``, ``up`` and ``node``.
Defaults come from ``entro_net.config``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from entro_net.config import (
    ENV_PREFIX,
    LOG_LEVELS,
    MAX_UP_NODES,
    Disturbance,
    Fault,
    Law,
    ModelConfig,
    ModelSettings,
    Source,
)
from entro_net.errors import ConfigError


class OneLineParser(argparse.ArgumentParser):
    """A parser whose usage errors are one line on stderr, status 2.

    Every ``entro-net`` parser is one: subparsers inherit the class.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Values such as -inf, -1e3 or -1:300:2.0 (a --fault) are values, not
        # flags: no flag of ours starts with a digit, a dot or "inf"/"nan".
        self._negative_number_matcher = _NEGATIVE_VALUE

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_NEGATIVE_VALUE = re.compile(r"^-(\d|\.\d|inf$|infinity$|nan$)", re.IGNORECASE)


FLAG_OF_FIELD = {
    "staleness_s": "--staleness",
    "lockstep_wait_s": "--lockstep-wait",
    "heartbeat_interval_s": "--heartbeat-interval",
    "rejoin_backoff_max_s": "--rejoin-backoff-max",
    "health_timeout_s": "--timeout",
    "faults": "--fault",
}
"""Settings whose flag is not simply the field name with dashes."""


def model_defaults() -> ModelConfig:
    """The model's defaults, with ``ENTRO_NET_*`` environment variables applied.

    Raises:
        ConfigError: an environment variable holds a bad value.
    """
    try:
        return ModelSettings()
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, env=True)) from exc


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Add the model's knobs (MODEL.md) to ``parser``.

    Defaults come from the config model, overridden by ``ENTRO_NET_*``.
    """
    defaults = model_defaults()
    group = parser.add_argument_group("model")
    group.add_argument(
        "--source",
        "--regime",
        dest="source",
        choices=[s.value for s in Source],
        default=defaults.source.value,
        help="where each node's raw reading comes from (--regime is an alias; "
        "default %(default)s)",
    )
    group.add_argument(
        "--law",
        choices=[law.value for law in Law],
        default=defaults.law.value,
        help="sync law (default %(default)s)",
    )
    group.add_argument(
        "--kappa",
        default=str(defaults.kappa),
        help="coupling κ, a number or 'auto' (1/n for linear, 1 for seed; "
        "default %(default)s)",
    )
    group.add_argument(
        "--force-kappa",
        action="store_true",
        default=defaults.force_kappa,
        help="accept a κ that makes the linear law unstable (κ·n ≥ 2)",
    )
    group.add_argument(
        "--degree",
        type=int,
        default=defaults.degree,
        metavar="K",
        help="sync over a sparse graph of K neighbours a node (linear law; "
        "default: every node with every other)",
    )
    group.add_argument(
        "--tolerate",
        type=int,
        default=defaults.tolerate,
        help="F, faulty peers the resilient law tolerates (default %(default)s)",
    )
    group.add_argument(
        "--disturbance",
        choices=[d.value for d in Disturbance],
        default=defaults.disturbance.value,
        help="disturbance of the plant source (default %(default)s)",
    )
    group.add_argument(
        "--no-phase-offset",
        action="store_true",
        default=not defaults.phase_offset,
        help="give every plant node the same phase",
    )
    group.add_argument(
        "--fault",
        action="append",
        default=[f"{f.node}:{f.step}:{f.level}" for f in defaults.faults],
        metavar="NODE:STEP:LEVEL",
        help="node NODE reads LEVEL from STEP on (repeatable)",
    )
    group.add_argument(
        "--theta-base",
        type=float,
        default=defaults.theta_base,
        help="θ_base (default %(default)s)",
    )
    group.add_argument(
        "--gamma",
        type=float,
        default=defaults.gamma,
        help="γ, θ_net's variance gain (default %(default)s)",
    )
    group.add_argument(
        "--beta",
        type=float,
        default=defaults.beta,
        help="β, Collective-AEW's starting gain (default %(default)s)",
    )
    group.add_argument(
        "--eta",
        type=float,
        default=defaults.eta,
        help="η, the learning rate (default %(default)s)",
    )
    group.add_argument(
        "--psi-critical",
        type=float,
        default=defaults.psi_critical,
        help="Ψ_critical of the isolation rule (default %(default)s)",
    )
    group.add_argument(
        "--readmit-below",
        type=float,
        default=defaults.readmit_below,
        help="reading an isolated node must stay under to be readmitted "
        "(default %(default)s)",
    )
    group.add_argument(
        "--readmit-after",
        type=int,
        default=defaults.readmit_after,
        help="readings in a row below --readmit-below before readmission "
        "(default %(default)s)",
    )
    group.add_argument(
        "--no-isolation",
        action="store_true",
        default=not defaults.isolation,
        help="never isolate a node",
    )
    group.add_argument(
        "--no-exchange",
        action="store_true",
        default=not defaults.exchange,
        help="turn the exchange off (s_i = r_i): the baseline",
    )
    group.add_argument(
        "--no-transfer",
        action="store_true",
        default=not defaults.transfer,
        help="late joiners start cold instead of from the network's weights",
    )


def model_config_from_args(args: argparse.Namespace) -> ModelConfig:
    """Build the ModelConfig the flags describe.

    Raises:
        ConfigError: one line naming the bad flag and what it accepts.
    """
    faults = tuple(Fault.parse(text) for text in args.fault)
    fields: dict[str, Any] = {
        "law": args.law,
        "kappa": args.kappa,
        "force_kappa": args.force_kappa,
        "degree": args.degree,
        "tolerate": args.tolerate,
        "source": args.source,
        "disturbance": args.disturbance,
        "phase_offset": not args.no_phase_offset,
        "faults": faults,
        "theta_base": args.theta_base,
        "gamma": args.gamma,
        "beta": args.beta,
        "eta": args.eta,
        "psi_critical": args.psi_critical,
        "readmit_below": args.readmit_below,
        "readmit_after": args.readmit_after,
        "isolation": not args.no_isolation,
        "exchange": not args.no_exchange,
        "transfer": not args.no_transfer,
    }
    try:
        return ModelConfig(**fields)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc)) from exc


def validation_message(exc: ValidationError, *, env: bool = False) -> str:
    """One line naming each bad field as its flag (or variable), and why."""
    parts = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:
            parts.append(message)
            continue
        field = str(error["loc"][0])
        flag = FLAG_OF_FIELD.get(field, "--" + field.replace("_", "-"))
        where = ENV_PREFIX + field.upper() if env else flag
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


_RANGE = re.compile(r"^(\d+)\s*(?:-|\.\.|:)\s*(\d+)(?:\s*:\s*(\d+))?$")


def parse_nodes(text: str) -> list[int]:
    """Parse ``--nodes``: ``20``, ``2,3,5``, ``2-50`` or ``2:50:4``.

    Raises:
        ConfigError: when it is not one of those forms or a size is below 2.
    """
    sizes: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = _RANGE.match(part)
        if part.isdigit():
            sizes.append(int(part))
        elif match:
            low, high = int(match[1]), int(match[2])
            stride = int(match[3]) if match[3] else 1
            if high < low or stride < 1:
                raise ConfigError(
                    f"--nodes: bad range {part!r}: LOW-HIGH or LOW-HIGH:STEP "
                    "with LOW <= HIGH and STEP >= 1, e.g. 2-50 or 10-50:10"
                )
            sizes.extend(range(low, high + 1, stride))
        else:
            raise ConfigError(
                f"--nodes: {part!r} is not a number, a list (2,3,5) or a range (2-50)"
            )
    if not sizes:
        raise ConfigError("--nodes: no sizes given")
    small = [n for n in sizes if n < 2]
    if small:
        raise ConfigError(f"--nodes: a network needs at least 2 nodes, got {small[0]}")
    return sorted(set(sizes))


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a seed, an index, a count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


_HOST_RE = re.compile(
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?"
    r"|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*)$"
)


def check_host(flag: str, text: str | None) -> None:
    """Raise ConfigError unless ``text`` is a host name or an IP address."""
    if text is not None and (len(text) > 253 or _HOST_RE.match(text) is None):
        raise ConfigError(
            f"{flag}: {text!r} is not a host name or IP address (e.g. 10.0.0.7)"
        )


def check_writable(paths: dict[str, str | Path | None], *, dirs: set[str]) -> None:
    """Check before a run that every output path can be written.

    Args:
        paths: flag name → path (None: not given).
        dirs: the flags that name a directory (made if missing).

    Raises:
        ConfigError: one line naming the flag and the path.
    """
    for flag, value in paths.items():
        if value is None or value == "":
            continue
        path = Path(value)
        if flag in dirs and path.exists() and not path.is_dir():
            raise ConfigError(f"{flag}: {path} exists and is not a directory")
        if flag not in dirs and path.is_dir():
            raise ConfigError(f"{flag}: {path} is a directory, not a file")
        if flag in dirs:
            existing = path
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent  # made with its parents at the start
        elif not path.parent.is_dir():
            raise ConfigError(f"{flag}: {path.parent} is not a directory")
        else:
            existing = path.parent
        if not existing.is_dir() or not _can_create_in(existing):
            raise ConfigError(
                f"{flag}: cannot write {path} ({existing} is not writable)"
            )
        if flag not in dirs and path.exists() and not os.access(path, os.W_OK):
            raise ConfigError(f"{flag}: cannot write {path}")


def _can_create_in(directory: Path) -> bool:
    """Whether a file can be made in ``directory`` (tried: root ignores modes)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def check_network_size(
    model: ModelConfig, nodes: int, steps: int | None, max_nodes: int = MAX_UP_NODES
) -> None:
    """Raise ConfigError (one line) for a network the flags cannot describe."""
    if nodes < 2:
        raise ConfigError(f"--nodes: a network needs at least 2 nodes, got {nodes}")
    if nodes > max_nodes:
        raise ConfigError(
            f"--nodes: at most {max_nodes} node processes on one machine, got {nodes}"
        )
    if steps is not None and steps <= 0:
        raise ConfigError(f"--steps must be > 0, got {steps}")
    if model.tolerate > nodes - 1:
        raise ConfigError(
            f"--tolerate {model.tolerate}: a node has only {nodes - 1} peers "
            f"with --nodes {nodes}"
        )
    if model.degree is not None and model.degree > nodes - 1:
        raise ConfigError(
            f"--degree {model.degree}: a node has only {nodes - 1} peers "
            f"with --nodes {nodes}"
        )
    for fault in model.faults:
        if fault.node >= nodes:
            raise ConfigError(
                f"--fault {fault.node}:{fault.step}:{fault.level}: node "
                f"{fault.node} does not exist with --nodes {nodes} (0..{nodes - 1})"
            )


def add_log_flags(parser: argparse._ActionsContainer, default_level: str) -> None:
    """``--log-level`` and ``--log-json`` (entro_net.logs does the rest)."""
    parser.add_argument(
        "--log-level",
        choices=list(LOG_LEVELS),
        default=default_level,
        help="lowest log level written to stderr (default %(default)s)",
    )
    parser.add_argument(
        "--log-json",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="JSON log lines (default: only when stderr is not a terminal)",
    )
