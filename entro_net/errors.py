"""The error hierarchy: one root, a few specific kinds, context as attributes."""

from __future__ import annotations


class EntroNetError(Exception):
    """Root of every error ENTRO-NET raises on purpose."""


class ConfigError(EntroNetError, ValueError):
    """A flag, environment variable or config value is wrong."""


class UnstableKappaError(ConfigError):
    """A fixed κ would make the linear law diverge on this many nodes."""

    def __init__(self, kappa: float, n_nodes: int) -> None:
        self.kappa = kappa
        self.n_nodes = n_nodes
        bound = 2.0 / n_nodes
        super().__init__(
            f"kappa={kappa:g} is unstable for the linear law on {n_nodes} nodes: "
            f"it needs kappa*n < 2, i.e. kappa < {bound:g} "
            f"(kappa <= {1.0 / n_nodes:g} avoids overshoot); "
            "use --kappa auto or pass --force-kappa"
        )


class SourceError(EntroNetError):
    """A source (trace file, host pressure) cannot produce readings."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message if path is None else f"{path}: {message}")


class ProtocolError(EntroNetError):
    """A message on the wire is malformed, too large or of a wrong version."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        self.reason = reason
        super().__init__(message)
