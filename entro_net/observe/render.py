"""Drawing the live view with rich: a header, a Var sparkline and a node table.

Only turns ``NetworkView`` figures into rich renderables; ``watch`` and
``replay`` put them in a ``Live`` or print them once.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from entro_net.observe.view import Header, NodeRow, RowState

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40
STATE_STYLES = {
    RowState.JOINING: "cyan",
    RowState.ACTIVE: "green",
    RowState.ISOLATED: "bold magenta",
    RowState.SUSPECT: "bold yellow",
    RowState.DEAD: "bold red",
    RowState.LEFT: "dim",
}


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """The last ``width`` values as block characters, scaled to their range."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    top = len(SPARK_BLOCKS) - 1
    if span <= 0.0:
        return SPARK_BLOCKS[0] * len(tail)
    return "".join(SPARK_BLOCKS[round((v - low) / span * top)] for v in tail)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _epoch(header: Header) -> str:
    return "-" if header.epoch is None else str(header.epoch)


def _coordinator_text(header: Header) -> Text:
    if header.coordinator_age_s is None:
        return Text("coordinator: waiting for it", style="bold yellow")
    if header.is_coordinator_away:
        return Text(
            f"coordinator: AWAY for {header.coordinator_age_s:.1f} s",
            style="bold red",
        )
    return Text(
        f"coordinator: connected ({header.coordinator_age_s:.1f} s ago)",
        style="green",
    )


def header_text(header: Header, title: str = "ENTRO-NET") -> Text:
    """The lines above the table: network figures, sparkline, coordinator."""
    text = Text()
    text.append(f"{title}  ", style="bold")
    taking_part = "-" if header.n_taking_part is None else header.n_taking_part
    text.append(
        f"step {header.step if header.step is not None else '-'}  "
        f"θ_net {_num(header.theta_net, 4)}  "
        f"Var {_num(header.var, 6)}  "
        f"V_net {_num(header.v_net, 5)}  "
        f"taking part {taking_part}  epoch {_epoch(header)}\n"
    )
    text.append("Var ")
    text.append(sparkline(header.var_history) or "-", style="cyan")
    if header.var_history:
        text.append(
            f"  ({min(header.var_history):.2e} .. {max(header.var_history):.2e})"
        )
    text.append("\n")
    text.append(_coordinator_text(header))
    isolated = ", ".join(header.isolated) or "none"
    text.append(
        f"  members {header.members}  isolated: {isolated}  "
        f"messages {header.messages}  undecodable {header.undecodable}"
    )
    return text


def node_table(rows: Sequence[NodeRow]) -> Table:
    """One row per node."""
    table = Table(expand=False, pad_edge=False, caption=f"{len(rows)} nodes")
    for name in ("node", "state", "step", "Ψ", "raw", "δ", "w1", "w2", "w3"):
        table.add_column(name, justify="left" if name == "node" else "right")
    for name in ("in/s", "out/s", "drops", "seen"):
        table.add_column(name, justify="right")
    for row in rows:
        w = row.weights or (None, None, None)
        table.add_row(
            row.node,
            Text(row.state.value, style=STATE_STYLES[row.state]),
            "-" if row.step is None else str(row.step),
            _num(row.psi, 4),
            _num(row.psi_raw, 4),
            _num(row.delta, 4),
            _num(w[0], 3),
            _num(w[1], 3),
            _num(w[2], 3),
            f"{row.rate_in:.1f}",
            f"{row.rate_out:.1f}",
            str(row.drops),
            "-" if row.age_s is None else f"{row.age_s:.1f}s",
        )
    return table


def live_view(
    header: Header, rows: Sequence[NodeRow], title: str = "ENTRO-NET"
) -> Group:
    """The whole screen: header above the node table."""
    return Group(header_text(header, title), node_table(rows))
