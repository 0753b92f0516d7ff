"""The loops of ``watch`` (live, from the wire) and ``replay`` (from a recording).

Both feed a ``NetworkView`` and draw it with the same renderer: a rich
``Live`` on a terminal, or a status line every few seconds otherwise. Both
stop on Ctrl-C or SIGTERM; ``--duration`` bounds ``watch``, a recording's
end bounds ``replay``. ``--save-svg`` writes the last screen as SVG.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entro_net.config import NetworkConfig
from entro_net.node.process import StopFlag
from entro_net.observe.render import live_view
from entro_net.observe.tap import Tap
from entro_net.observe.trajectory import decode_records
from entro_net.observe.view import NetworkView
from entro_net.recording import ReadStats, read_recording

PLAIN_INTERVAL_S = 2.0
SVG_WIDTH = 120


@dataclass
class Screen:
    """Where the view goes: a rich Live, or plain lines."""

    view: NetworkView
    title: str
    plain: bool
    refresh_hz: float
    live: Any = None
    next_draw: float = 0.0

    def __enter__(self) -> Screen:
        if not self.plain:
            from rich.live import Live

            self.live = Live(auto_refresh=False, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def draw(self, now: float, *, force: bool = False) -> None:
        """Redraw (at most ``refresh_hz`` times a second unless forced)."""
        wall = time.monotonic()
        if not force and wall < self.next_draw:
            return
        if self.live is not None:
            self.next_draw = wall + 1.0 / self.refresh_hz
            self.live.update(self.renderable(now), refresh=True)
        else:
            self.next_draw = wall + PLAIN_INTERVAL_S
            print(plain_line(self.view, now), flush=True)

    def renderable(self, now: float) -> Any:
        """The whole screen at ``now``."""
        return live_view(self.view.header(now), self.view.rows(now), self.title)

    def save_svg(self, path: Path, now: float) -> None:
        """Write the screen at ``now`` as an SVG picture."""
        from rich.console import Console

        console = Console(record=True, width=SVG_WIDTH, file=io.StringIO())
        console.print(self.renderable(now))
        console.save_svg(str(path), title=self.title)


def plain_line(view: NetworkView, now: float) -> str:
    """One status line: network figures and the count of nodes per state."""
    header = view.header(now)
    counts: dict[str, int] = {}
    for row in view.rows(now):
        counts[row.state.value] = counts.get(row.state.value, 0) + 1
    states = " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no nodes"
    theta = "-" if header.theta_net is None else f"{header.theta_net:.4f}"
    var = "-" if header.var is None else f"{header.var:.6f}"
    coordinator = "away" if header.is_coordinator_away else "up"
    epoch = "-" if header.epoch is None else header.epoch
    return (
        f"step {header.step if header.step is not None else '-'}  θ_net {theta}  "
        f"Var {var}  epoch {epoch}  nodes {states}  "
        f"coordinator {coordinator}"
    )


def run_watch(
    coordinator: str,
    net: NetworkConfig,
    *,
    plain: bool,
    refresh_hz: float,
    duration_s: float | None,
    save_svg: Path | None,
) -> int:
    """Show the network behind ``coordinator`` until stopped; returns 0."""
    view = NetworkView.from_config(net)
    tap = Tap(coordinator, net)
    stop = StopFlag()
    stop.install()
    end = float("inf") if duration_s is None else time.monotonic() + duration_s
    screen = Screen(view, f"ENTRO-NET {coordinator}", plain, refresh_hz)
    try:
        with screen:
            while stop.reason is None and time.monotonic() < end:
                for arrival in tap.poll(0.05):
                    if arrival.msg is None:
                        view.count_undecodable()
                    else:
                        view.feed(arrival.msg, arrival.ts)
                screen.draw(time.monotonic())
            screen.draw(time.monotonic(), force=True)
        if save_svg is not None:
            screen.save_svg(save_svg, time.monotonic())
    finally:
        tap.close()
    return 0


def run_replay(
    path: str,
    net: NetworkConfig,
    *,
    speed: float,
    plain: bool,
    refresh_hz: float,
    save_svg: Path | None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Play a recording into the live view at ``speed`` (0: at once)."""
    view = NetworkView.from_config(net)
    stop = StopFlag()
    stop.install()
    stats = ReadStats()
    records = decode_records(read_recording(path, stats=stats), net.max_message_bytes)
    screen = Screen(view, f"ENTRO-NET replay {Path(path).name}", plain, refresh_hz)
    start_wall = time.monotonic()
    first: float | None = None
    last = 0.0
    with screen:
        for ts, msg in records:
            if stop.reason is not None:
                break
            first = ts if first is None else first
            last = ts
            if speed > 0:
                due = start_wall + (ts - first) / speed
                wait = due - time.monotonic()
                if wait > 0:
                    sleep(wait)
            if msg is None:
                view.count_undecodable()
            else:
                view.feed(msg, ts)
            if speed > 0:
                screen.draw(ts)
        screen.draw(last, force=True)
    if save_svg is not None:
        screen.save_svg(save_svg, last)
    print(
        f"replayed {stats.records} records from {stats.files} file(s)"
        + (
            f"; {stats.torn_tail_bytes} bytes of a torn tail skipped"
            if stats.torn_tail_bytes
            else ""
        ),
        file=sys.stderr,
    )
    return 0
