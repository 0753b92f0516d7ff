"""``entro-net up``: a coordinator in this process and N node processes.

Starts the coordinator's sockets here, launches every node as
``python -m entro_net node ...`` on loopback, shows a live one-screen status
(rich on a terminal, plain progress lines otherwise), stops everything on
Ctrl-C, SIGTERM or when the nodes are done, always reaps every child by PID,
and prints (and writes) the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog

from entro_net import logs
from entro_net.cli.common import check_network_size
from entro_net.config import (
    LOG_LEVELS,
    UP_CHILD_CHECK_S,
    Clock,
    Launcher,
    ModelConfig,
    NetworkConfig,
    Source,
)
from entro_net.coordinator.core import CoordinatorCore
from entro_net.coordinator.server import CoordinatorServer
from entro_net.coordinator.summary import (
    anomaly_report,
    member_figures,
    network_summary,
    traffic_summary,
)
from entro_net.errors import ConfigError, EntroNetError
from entro_net.files import write_text_atomic
from entro_net.lifetime import die_with_parent
from entro_net.model.sync import check_kappa
from entro_net.node.forklaunch import ForkedNode, prefork
from entro_net.node.process import StopFlag
from entro_net.security.keys import (
    ALLOWED_DIR,
    COORDINATOR_NAME,
    PUBLIC_SUFFIX,
    SECRET_SUFFIX,
    generate_keys,
    node_key_name,
    observer_key_name,
)

log = structlog.get_logger()

DEFAULT_NODES = 5
WINDOWS_FILE = "anomaly_windows.json"


@dataclass
class Child:
    """One node process that ``up`` started."""

    node_id: str
    index: int
    process: subprocess.Popen[bytes] | ForkedNode
    summary: Path
    log_file: IO[bytes] | None
    trace: Path | None = None


def _or_dash(value: object) -> str:
    """A figure of the summary table, or - when the node never reported it."""
    return "-" if value is None else str(value)


def _process_age_s() -> float | None:
    """Seconds since this process started (its interpreter's start included)."""
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except (ImportError, OSError):
        return None


@dataclass(frozen=True)
class Plan:
    """What ``up`` will run."""

    nodes: int
    steps: int | None
    traces: list[Path]
    trace_dir: Path | None


def make_plan(args: argparse.Namespace, model: ModelConfig) -> Plan:
    """Resolve N, the steps and the trace files from the flags.

    Raises:
        ConfigError: a trace source without files, or too few nodes.
    """
    traces: list[Path] = []
    trace_dir = Path(args.trace_dir) if args.trace_dir else None
    steps = args.steps
    if trace_dir is not None:
        traces = sorted(trace_dir.glob("*.csv"))
        if not traces:
            raise ConfigError(f"--trace-dir {trace_dir}: no *.csv files")
    if traces and model.source is not Source.TRACE:
        raise ConfigError("--trace-dir replays traces: add --source trace")
    if model.source is Source.TRACE and not traces:
        raise ConfigError("--source trace needs --trace-dir DIR (one CSV a node)")
    nodes = args.nodes if args.nodes is not None else (len(traces) or DEFAULT_NODES)
    check_network_size(model, nodes, steps)
    if traces and nodes > len(traces):
        raise ConfigError(f"--nodes {nodes} but {trace_dir} has {len(traces)} CSVs")
    if model.source is Source.TRACE:
        from entro_net.inputs import load_trace

        # Parsed here, so a bad file is one error line, not a dead node.
        lengths = [len(load_trace(path).psi) for path in traces[:nodes]]
        steps = max(lengths) if steps is None else steps
    if model.kappa != "auto" and model.law.value == "linear":
        check_kappa(float(model.kappa), nodes, force=model.force_kappa)
    return Plan(nodes, steps, traces[:nodes] if traces else [], trace_dir)


def node_command(
    args: argparse.Namespace,
    model: ModelConfig,
    net: NetworkConfig,
    control: str,
    plan: Plan,
    index: int,
    summary: Path,
) -> list[str]:
    """The command line of node ``index``."""
    command = [
        sys.executable,
        "-m",
        "entro_net",
        "node",
        "--coordinator",
        control,
        "--node-id",
        f"node-{index}",
        "--index",
        str(index),
        "--network-size",
        str(plan.nodes),
        "--seed",
        str(args.seed),
        "--repeat",
        str(getattr(args, "repeat", 0)),
        "--bind-host",
        "127.0.0.1",
        "--advertise",
        "127.0.0.1",
        "--clock",
        net.clock.value,
        "--rate",
        repr(net.rate),
        "--staleness",
        repr(net.staleness_s),
        "--lockstep-wait",
        repr(net.lockstep_wait_s),
        "--topology",
        net.topology.value,
        "--heartbeat-interval",
        repr(net.heartbeat_interval_s),
        "--suspect-after",
        str(net.suspect_after),
        "--dead-after",
        str(net.dead_after),
        "--rejoin-backoff-max",
        repr(net.rejoin_backoff_max_s),
        "--summary-json",
        str(summary),
        "--log-level",
        # Node logs go to files in the run directory: info at least, so they
        # keep the story of the run whatever up's console shows.
        min(args.log_level, "info", key=LOG_LEVELS.index),
        "--model-json",
        model.model_dump_json(),
    ]
    if net.curve_secret is not None:
        keys = Path(net.curve_secret).parent
        command += [
            "--curve-secret",
            str(keys / f"{node_key_name(index)}{SECRET_SUFFIX}"),
            "--coordinator-key",
            str(keys / f"{COORDINATOR_NAME}{PUBLIC_SUFFIX}"),
            "--allow",
            str(keys / ALLOWED_DIR),
        ]
    if plan.steps is not None:
        command += ["--steps", str(plan.steps)]
    if plan.traces:
        command += ["--trace", str(plan.traces[index])]
    if args.trajectory_dir:
        command += [
            "--trajectory",
            str(Path(args.trajectory_dir) / f"node-{index}.csv"),
        ]
    return command


def secure_settings(
    args: argparse.Namespace, net: NetworkConfig, nodes: int
) -> NetworkConfig:
    """``--secure [DIR]``: keys for the coordinator, every node and a watcher.

    Keys already in DIR are kept (the layout of ``entro-net keys generate``);
    without DIR they go to a fresh temporary directory.

    Raises:
        ConfigError: CURVE settings came from the environment without
            ``--secure`` (``up`` gives every node its own key itself).
    """
    secure = getattr(args, "secure", None)
    if secure is None:
        if net.curve_secret is not None or net.allow is not None:
            raise ConfigError(
                "up makes a secure network with --secure [DIR]; unset "
                "ENTRO_NET_CURVE_SECRET / ENTRO_NET_ALLOW or pass --secure"
            )
        return net
    keys = Path(secure) if secure else Path(tempfile.mkdtemp(prefix="entro-net-keys-"))
    generate_keys(keys, nodes, 1)
    log.info(
        "secure_network",
        keys=str(keys),
        watch=watch_flags(keys),
    )
    return net.model_copy(
        update={
            "curve_secret": str(keys / f"{COORDINATOR_NAME}{SECRET_SUFFIX}"),
            "coordinator_key": None,
            "allow": str(keys / ALLOWED_DIR),
        }
    )


def child_env() -> dict[str, str]:
    """This environment, with this very package first on the import path."""
    import entro_net

    root = str(Path(entro_net.__file__).resolve().parent.parent)
    env = dict(os.environ)
    paths = [root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def parse_late(text: str | None, plan: Plan) -> dict[int, int]:
    """``INDEX:STEP``: node INDEX is held back until the network's STEP.

    Raises:
        ConfigError: not two integers, or outside the network and the run.
    """
    if not text:
        return {}
    try:
        index, step = (int(part) for part in text.split(":"))
    except ValueError:
        raise ConfigError(f"--late: expected INDEX:STEP, got {text!r}") from None
    last = plan.steps if plan.steps is not None else step + 1
    if not (0 <= index < plan.nodes and 0 < step < last):
        raise ConfigError(
            f"--late {text}: the node must be below {plan.nodes} and the step "
            f"inside the run (0 < step < {last})"
        )
    return {index: step}


class Up:
    """The running network: coordinator, children, status and summary."""

    def __init__(
        self, args: argparse.Namespace, model: ModelConfig, net: NetworkConfig
    ) -> None:
        self.args = args
        self.model = model
        self.net = net
        self.plan = make_plan(args, model)
        self.late = parse_late(getattr(args, "late", None), self.plan)
        net = self.net = secure_settings(args, net, self.plan.nodes)
        self.created_at = time.monotonic()
        # Forked before any ZeroMQ context exists in this process.
        self.forked: list[ForkedNode] = (
            prefork(self.plan.nodes) if net.launcher is Launcher.FORK else []
        )
        try:
            self._open(args, model, net)
        except BaseException:
            for node in self.forked:
                node.release()
                node.wait()
            raise
        if net.curve_secret is not None:
            self.server.extra_endpoints["keys"] = str(Path(net.curve_secret).parent)
        self.children: list[Child] = []
        self.run_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="entro-net-up-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if args.trajectory_dir:
            Path(args.trajectory_dir).mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        self.launched_s: float | None = None
        self.all_active_s: float | None = None
        self.all_active_since_process_s: float | None = None
        self.stop = StopFlag()
        self.failed: dict[str, int] = {}
        """Nodes whose process ended with an error, and its exit code."""

    def _open(
        self, args: argparse.Namespace, model: ModelConfig, net: NetworkConfig
    ) -> None:
        """The coordinator's core, sockets and observers."""
        self.core = CoordinatorCore(
            model,
            net,
            net.clock,
            time.monotonic(),
            expect=self.plan.nodes - len(self.late),
            incarnation=time.time_ns() // 1_000_000,
        )
        self.server = CoordinatorServer(
            self.core, net, host="127.0.0.1", port=net.port, advertise="127.0.0.1"
        )
        from entro_net.observe.record import attach

        try:
            self.observers = attach(
                self.server,
                self.core,
                net,
                bind_host="127.0.0.1",
                advertise="127.0.0.1",
            )
        except EntroNetError:
            self.server.close()
            raise

    # --- processes ---------------------------------------------------------

    def launch(self) -> None:
        """Start every node process (a late one waits for its step)."""
        for index in range(self.plan.nodes):
            if index not in self.late:
                self._launch_one(index)
        self.launched_s = time.monotonic() - self.created_at
        log.info("nodes_launched", nodes=len(self.children), run_dir=str(self.run_dir))

    def _launch_late(self) -> None:
        """Start a held-back node once the network reached its step.

        It joins like any late joiner (snapshot and weights first) and runs
        the steps that are left.
        """
        for index, step in list(self.late.items()):
            if self.core.started and self.core.step >= step:
                del self.late[index]
                left = None if self.plan.steps is None else self.plan.steps - step
                self._launch_one(index, steps=left)
                log.info("late_node_launched", node=f"node-{index}", step=step)

    def _launch_one(self, index: int, steps: int | None = None) -> None:
        control = self.server.endpoints["control"]
        summary = self.run_dir / f"node-{index}.json"
        summary.unlink(missing_ok=True)
        log_path = self.run_dir / f"node-{index}.log"
        command = node_command(
            self.args, self.model, self.net, control, self.plan, index, summary
        )
        if steps is not None and "--steps" in command:
            command[command.index("--steps") + 1] = str(max(steps, 1))
        process: subprocess.Popen[bytes] | ForkedNode
        log_file: IO[bytes] | None = None
        if self.forked:
            process = self.forked[index]
            process.start(command[3:], log_path)  # without python -m entro_net
        else:
            log_file = log_path.open("wb")
            process = subprocess.Popen(
                command,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        self.children.append(
            Child(
                f"node-{index}",
                index,
                process,
                summary,
                log_file,
                self.plan.traces[index] if self.plan.traces else None,
            )
        )

    def running(self) -> list[Child]:
        """Children that have not exited yet."""
        return [c for c in self.children if c.process.poll() is None]

    def shutdown(self) -> None:
        """SIGTERM every child, wait, SIGKILL stragglers; always reap by PID."""
        for child in self.running():
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.net.stop_timeout_s
        while self.running() and time.monotonic() < deadline:
            self.server.poll_once(0.05)
        for child in self.running():
            log.warning("node_killed", node=child.node_id, pid=child.process.pid)
            child.process.kill()
        for child in self.children:
            child.process.wait()
            if child.log_file is not None:
                child.log_file.close()
        for node in self.forked:
            node.release()  # one never started (launch failed) exits at once
            node.wait()

    # --- the loop ----------------------------------------------------------

    def run(self) -> int:
        """Run until done or stopped; returns the exit status."""
        self.stop.install()
        if self.args.ready_file:
            write_text_atomic(
                Path(self.args.ready_file), json.dumps(self.server.endpoints)
            )
        status = Status(self, plain=self.args.plain or not sys.stdout.isatty())
        try:
            self.launch()
            with status:
                self._loop(status)
        finally:
            self.shutdown()
            self._drain()
            summary = self.summary()
            self.observers.close()
            self.server.close()
        status.print_summary(summary)
        if self.args.summary_json:
            path = Path(self.args.summary_json)
            path.write_text(json.dumps(summary, indent=1))
        return self.exit_status()

    def exit_status(self) -> int:
        """143 after SIGTERM, 130 after Ctrl-C, 1 when a node failed, else 0."""
        if self.stop.reason == "sigterm":
            return 143
        if self.stop.reason is not None:
            return 130
        return 1 if self.failed else 0

    def _loop(self, status: Status) -> None:
        next_status = time.monotonic()
        next_check = next_status
        while self.stop.reason is None:
            self.server.poll_once(0.05)
            now = time.monotonic()
            self._launch_late()
            if self.all_active_s is None and self._all_stepping():
                self.all_active_s = now - self.created_at
                self.all_active_since_process_s = _process_age_s()
            if now >= next_status:
                status.update()
                next_status = now + (
                    self.net.status_interval_s if status.plain else 0.25
                )
            if now < next_check:
                # This process relays every state (the hub): asking each
                # child whether it ended costs a system call apiece, so not
                # on every wake-up.
                continue
            next_check = now + UP_CHILD_CHECK_S
            self._check_children()
            self._force_start(now)
            if not self.running() and not self.late:
                break
        if self.core.members or status.plain:
            status.update()

    def _check_children(self) -> None:
        """Say at once which node process failed; start without it if joining."""
        for child in self.children:
            code = child.process.poll()
            if code is None or code == 0 or child.node_id in self.failed:
                continue
            self.failed[child.node_id] = code
            last = last_log_line(self.run_dir / f"{child.node_id}.log")
            log.error("node_exited", node=child.node_id, code=code, last_line=last)
            print(
                f"up: {child.node_id} exited with code {code}: {last}",
                file=sys.stderr,
                flush=True,
            )
            if not self.core.started:
                self.core.expect = max(1, self.plan.nodes - len(self.failed))

    def _all_stepping(self) -> bool:
        """Whether the coordinator has seen a state from every node."""
        stepping = sum(m.latest is not None for m in self.core.members.values())
        return stepping >= self.plan.nodes

    def _force_start(self, now: float) -> None:
        core = self.core
        if core.started or now - self.started_at < self.net.start_timeout_s:
            return
        joined = len(core.live())
        log.warning("start_forced", expected=core.expect, joined=joined)
        core.expect = max(joined, 1)

    def _drain(self) -> None:
        """Let the coordinator take in what is still on the wire."""
        quiet_until = time.monotonic() + 0.3
        hard_stop = time.monotonic() + 3.0
        seen = self.core.states_seen
        while time.monotonic() < min(quiet_until, hard_stop):
            self.server.poll_once(0.05)
            if self.core.states_seen != seen:
                seen = self.core.states_seen
                quiet_until = time.monotonic() + 0.3
        self.core.tick(time.monotonic() + self.net.lockstep_wait_s * 10)
        self.server.flush()

    # --- summary -----------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Every figure of the run, JSON-ready."""
        network = network_summary(self.core, self.server)
        seen = member_figures(self.core)
        nodes = []
        for child in self.children:
            figures: dict[str, Any] = {"id": child.node_id, "index": child.index}
            figures.update(seen.get(child.node_id, {}))
            if child.summary.exists():
                figures.update(json.loads(child.summary.read_text()))
            else:
                figures.setdefault("state", "unknown")
                figures.update({"sent": None, "received": None, "dropped": None})
            figures["exit_code"] = child.process.returncode
            if not child.summary.exists() and child.process.returncode:
                # It never wrote its figures: what the coordinator last saw
                # (e.g. "active") is not its state now.
                figures["state"] = "dead" if child.process.returncode < 0 else "exited"
            figures["pid"] = child.process.pid
            if child.trace is not None:
                figures["trace"] = child.trace.name
            nodes.append(figures)
        out: dict[str, Any] = {
            "nodes": nodes,
            **network,
            "n_nodes": self.plan.nodes,
            "seed": self.args.seed,
            "wall_seconds": round(time.monotonic() - self.started_at, 3),
            "topology": self.net.topology.value,
            "startup": {
                "launcher": self.net.launcher.value,
                "launched_s": self.launched_s,
                "all_active_s": self.all_active_s,
                "all_active_since_process_start_s": self.all_active_since_process_s,
            },
            "traffic": traffic_summary(nodes),
            "run_dir": str(self.run_dir),
            "keys_dir": self.server.extra_endpoints.get("keys"),
            "stopped_by": self.stop.reason,
            "failed": [
                {
                    "node": node,
                    "exit_code": code,
                    "last_log_line": last_log_line(self.run_dir / f"{node}.log"),
                }
                for node, code in self.failed.items()
            ],
        }
        out["coordinator"]["drops"] = self._drops()
        if self.plan.trace_dir is not None:
            out["anomalies"] = self._anomalies(out["isolations"])
        return out

    def _drops(self) -> dict[str, int]:
        """The coordinator's dropped frames and refused inputs, by reason."""
        drops: dict[str, int] = dict(self.core.rejected)
        for decoder in (self.server.control_decoder, self.server.event_decoder):
            for reason, count in decoder.drops.items():
                drops[str(reason)] = drops.get(str(reason), 0) + count
        return dict(sorted(drops.items()))

    def _anomalies(self, isolations: list[dict[str, Any]]) -> dict[str, Any] | None:
        assert self.plan.trace_dir is not None
        windows = self.plan.trace_dir / WINDOWS_FILE
        if not windows.exists():
            return None
        from entro_net.inputs import load_trace

        series = {
            child.node_id: (child.trace.name, load_trace(child.trace).timestamps)
            for child in self.children
            if child.trace is not None
        }
        return anomaly_report(windows, series, isolations)


def last_log_line(path: Path, max_chars: int = 300) -> str:
    """The last non-empty line of a node's log (its error, when it failed)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 8192))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:max_chars] if lines else "(empty log)"


class Status:
    """The one-screen status: rich Live on a terminal, plain lines otherwise."""

    def __init__(self, up: Up, *, plain: bool) -> None:
        self.up = up
        self.plain = plain
        self._live: Any = None

    def __enter__(self) -> Status:
        if not self.plain:
            from rich.live import Live

            self._live = Live(self._table(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self) -> None:
        """Redraw (or print one progress line)."""
        if self._live is not None:
            self._live.update(self._table())
        else:
            print(self._line(), flush=True)

    def _line(self) -> str:
        up = self.up
        f = up.core.figures()
        live = up.core.live()
        isolated = len(f["isolated"])
        total = up.plan.steps if up.plan.steps is not None else "∞"
        var = "-" if f["var"] is None else f"{f['var']:.5f}"
        vnet = "-" if f["v_net"] is None else f"{f['v_net']:.4f}"
        wall = time.monotonic() - up.started_at
        return (
            f"[{wall:7.1f}s] steps {f['most_steps']}/{total}  "
            f"nodes {len(live)}/{up.plan.nodes} (isolated {isolated})  "
            f"Var {var}  V_net {vnet}  θ_net {f['theta_net']:.3f}  "
            f"running {len(up.running())}"
        )

    def _table(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        table = Table(expand=False, title="ENTRO-NET", caption=self._line())
        for column in ("node", "state", "step", "Ψ", "raw", "w1", "w2", "w3", "θ"):
            table.add_column(column, justify="right")
        for member in sorted(self.up.core.members.values(), key=lambda m: m.index):
            s = member.latest
            state = member.node_state.value
            if member.status.value != "alive":
                state = member.status.value
            if s is None:
                table.add_row(member.node, state, *["-"] * 7)
                continue
            table.add_row(
                member.node,
                state,
                str(s.step),
                f"{s.psi:.4f}",
                f"{s.psi_raw:.4f}",
                f"{s.w1:.3f}",
                f"{s.w2:.3f}",
                f"{s.w3:.3f}",
                f"{s.theta_net:.3f}",
            )
        return Group(table)

    def print_summary(self, summary: dict[str, Any]) -> None:
        """Print the final figures, one line a node and a network line."""
        print(
            f"{'node':>10} {'state':>9} {'steps':>6} {'psi':>8} "
            f"{'w1':>6} {'w2':>6} {'w3':>6} {'sent':>7} {'recv':>7} {'drop':>5}"
        )
        for node in summary["nodes"]:
            w = node.get("weights") or [float("nan")] * 3
            psi = node.get("psi")
            print(
                f"{node['id']:>10} {node.get('state', '?'):>9} "
                f"{node.get('steps', '-')!s:>6} "
                f"{(psi if psi is not None else float('nan')):8.4f} "
                f"{w[0]:6.3f} {w[1]:6.3f} {w[2]:6.3f} "
                f"{_or_dash(node.get('sent')):>7} "
                f"{_or_dash(node.get('received')):>7} "
                f"{_or_dash(node.get('dropped')):>5}"
            )
        var100 = summary.get("var_last100")
        # Free clock: the coordinator's own θ_net rounds, which may run one
        # past the nodes' last step; lockstep: the network's closed rounds.
        rounds = "rounds" if summary["clock"] == Clock.FREE.value else "steps"
        print(
            f"network: {rounds} {summary['steps']}  var_last100 "
            f"{'-' if var100 is None else f'{var100:.6f}'}  "
            f"V_net {summary.get('v_net')}  θ_net {summary['theta_net']:.4f}  "
            f"isolations {len(summary['isolations'])}  "
            f"wall {summary['wall_seconds']:.1f}s"
        )
        drops = summary["coordinator"].get("drops") or {}
        if drops:
            print(
                "coordinator drops: "
                + ", ".join(f"{reason} {count}" for reason, count in drops.items())
            )
        for failed in summary.get("failed", []):
            print(
                f"{failed['node']} failed (exit code {failed['exit_code']}): "
                f"{failed['last_log_line']}"
            )
        print(f"node logs and figures: {summary['run_dir']}")
        if summary.get("keys_dir"):
            keys = Path(summary["keys_dir"])
            print(f"keys: {keys} (watch with {watch_flags(keys)})")
        anomalies = summary.get("anomalies")
        if anomalies:
            print(
                f"anomaly windows: {anomalies['windows_with_isolation']}/"
                f"{anomalies['windows']} got an isolation; "
                f"{len(anomalies['isolations_in_window'])} isolations inside a "
                f"window, {len(anomalies['isolations_outside_windows'])} outside"
            )


def watch_flags(keys: Path) -> str:
    """The flags that let watch and sniff into a network keyed from ``keys``."""
    return (
        f"--curve-secret {keys / observer_key_name(0)}{SECRET_SUFFIX} "
        f"--coordinator-key {keys / COORDINATOR_NAME}{PUBLIC_SUFFIX}"
    )


def run_up(args: argparse.Namespace, model: ModelConfig, net: NetworkConfig) -> int:
    """Run ``entro-net up``; returns the exit status."""
    logs.configure("up", level=args.log_level, json=getattr(args, "log_json", None))
    if net.clock is Clock.LOCKSTEP and model.source is Source.HOST:
        log.warning("host_source_in_lockstep", note="readings depend on timing")
    return Up(args, model, net).run()
