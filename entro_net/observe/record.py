"""``--record FILE`` and ``--metrics-port M``: hooking observers into a coordinator.

``attach`` gives the coordinator's server an ``on_frame`` callback that
appends every frame it receives (control and events) or publishes to the
recording, and an ``on_tick`` callback that refreshes the metrics. Replies
to a single node (welcomes, heartbeat acks) are not recorded.

Beside the recording, ``FILE.meta.json`` says how to read it: the clock
(in lockstep a state of step k carries the synced values of step k − 1),
the model config and when the coordinator started. Record times are wall
clock seconds (the server's monotonic time plus a fixed offset).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from entro_net.config import NetworkConfig
from entro_net.coordinator.core import CoordinatorCore
from entro_net.coordinator.server import CoordinatorServer
from entro_net.errors import ConfigError
from entro_net.files import write_text_atomic
from entro_net.recording import RecordWriter

log = structlog.get_logger()

META_SUFFIX = ".meta.json"


def meta_path(path: str | os.PathLike[str]) -> Path:
    """Where a recording's meta file lives."""
    base = Path(path)
    return base.with_name(base.name + META_SUFFIX)


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A recording's meta data, or an empty dict when it has none."""
    target = meta_path(path)
    if not target.exists():
        return {}
    data: dict[str, Any] = json.loads(target.read_text())
    return data


class Recorder:
    """Appends frames to a recording with wall-clock receive times.

    Args:
        path: the recording's file.
        max_bytes: rotate past this size.
        keep: rotated files kept.
        meta: written to ``FILE.meta.json``.
    """

    def __init__(
        self, path: str | Path, max_bytes: int, keep: int, meta: dict[str, Any]
    ) -> None:
        self.writer = RecordWriter(path, max_bytes=max_bytes, keep=keep)
        self.offset = time.time() - time.monotonic()
        self.failed = False
        write_text_atomic(meta_path(path), json.dumps(meta, indent=1))

    @property
    def written(self) -> int:
        """Records written by this recorder."""
        return self.writer.written

    def on_frame(self, now: float, frame: bytes) -> None:
        """Record one frame seen at monotonic time ``now``.

        A write that fails (disk full, file gone) stops the recording with
        one error line; the coordinator goes on without it.
        """
        if self.failed:
            return
        try:
            self.writer.append(now + self.offset, frame)
        except OSError as exc:
            self.failed = True
            log.error(
                "recording_stopped",
                path=str(self.writer.path),
                error=exc.strerror,
                written=self.writer.written,
            )

    def close(self) -> None:
        """Flush and close the file."""
        with contextlib.suppress(OSError):
            self.writer.close()


@dataclass
class Observers:
    """The recorder and metrics server attached to one coordinator."""

    recorder: Recorder | None = None
    metrics: Any = None
    http: Any = None

    def endpoints(self, host: str) -> dict[str, Any]:
        """What to add to the ready file."""
        out: dict[str, Any] = {}
        if self.http is not None:
            out["metrics"] = f"http://{host}:{self.http.port}/metrics"
            out["metrics_port"] = self.http.port
        if self.recorder is not None:
            out["record"] = str(self.recorder.writer.path)
        return out

    def close(self) -> None:
        """Stop serving metrics and close the recording."""
        if self.http is not None:
            self.http.close()
            self.http = None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None


def attach(
    server: CoordinatorServer,
    core: CoordinatorCore,
    net: NetworkConfig,
    *,
    bind_host: str,
    advertise: str,
) -> Observers:
    """Start recording and serving metrics as ``net`` asks; hook them in.

    Raises:
        ConfigError: the metrics port cannot be bound.
        RecordingError: the recording cannot be opened.
    """
    observers = Observers()
    if net.record:
        observers.recorder = Recorder(
            net.record,
            net.record_max_bytes,
            net.record_keep,
            {
                "format": "entro-net recording",
                "clock": core.clock.value,
                "model": json.loads(core.model.model_dump_json()),
                "coordinator": core.node_id,
                "incarnation": core.incarnation,
                "started": time.time(),
            },
        )
        server.on_frame = observers.recorder.on_frame
    if net.metrics_port is not None:
        from entro_net.observe.metrics import CoordinatorMetrics, MetricsServer

        metrics = CoordinatorMetrics(
            core, server, net.metrics_interval_s, observers.recorder
        )
        try:
            observers.http = MetricsServer(metrics, bind_host, net.metrics_port)
        except OSError as exc:
            observers.close()
            raise ConfigError(
                f"--metrics-port {net.metrics_port}: cannot serve on "
                f"{bind_host}: {exc.strerror}; pick another port or 0"
            ) from exc
        metrics.update(time.monotonic(), force=True)
        observers.metrics = metrics
        server.on_tick = metrics.update
    server.extra_endpoints.update(observers.endpoints(advertise))
    return observers
